"""The publisher against a real mosquitto: delivery, bad password, no broker, a stalled broker, a restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from core.infer import Decision
from core.push import NOT_AUTHORISED, MqttPublisher, PushSettings, PushStatus
from tests.fixtures.broker import Broker, Subscriber, free_port

pytestmark = pytest.mark.hardware


def decision(label: str, t: float = 0.0) -> Decision:
    return Decision(time=t, label=label, confidence=0.875, scores={label: 0.875, "other": 0.125})


class Events:
    """Status events collected from the publisher's thread."""

    def __init__(self) -> None:
        self.items: list[tuple[float, PushStatus]] = []
        self.lock = threading.Lock()

    def __call__(self, status: PushStatus) -> None:
        with self.lock:
            self.items.append((time.monotonic(), status))

    def states(self) -> list[str]:
        with self.lock:
            return [s.state for _, s in self.items]

    def messages(self) -> list[str]:
        with self.lock:
            return [s.message for _, s in self.items]

    def wait(self, predicate: Callable[[PushStatus], bool], timeout: float = 10, after: float = 0) -> float:
        """The time of the first event after `after` matching `predicate`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for at, status in self.items:
                    if at >= after and predicate(status):
                        return at
            time.sleep(0.02)
        pytest.fail(f"no matching status within {timeout} s; saw {self.messages()}")


def test_labels_arrive_in_order(broker: Broker, subscribe: Callable[[str], Subscriber]) -> None:
    subscriber = subscribe("siot/order")
    labels = ["yes", "yes", "no", "up", "up", "up", "down", "yes", "no", "no"]
    events = Events()
    with MqttPublisher(PushSettings.from_url(broker.url("siot/order")), on_status=events) as publisher:
        assert publisher.wait_connected(5)
        for i, label in enumerate(labels):
            publisher.publish(decision(label, i * 0.25))
        assert publisher.wait_idle(5)
    assert subscriber.wait_for(6, 5) == ["yes", "no", "up", "down", "yes", "no"]
    assert subscriber.wait_quiet(0.3) == ["yes", "no", "up", "down", "yes", "no"]
    stats = publisher.stats
    assert (stats.received, stats.sent, stats.skipped, stats.dropped, stats.lost) == (10, 6, 4, 0, 0)
    assert events.states()[:2] == ["connecting", "connected"]
    assert events.states()[-1] == "stopped"
    assert all(broker.password not in m for m in events.messages())


def test_json_every_decision_at_qos_1(broker: Broker, subscribe: Callable[[str], Subscriber]) -> None:
    subscriber = subscribe("lab/json")
    settings = PushSettings.from_url(broker.url("lab/json"), payload="json", on_change=False, qos=1)
    with MqttPublisher(settings) as publisher:
        assert publisher.wait_connected(5)
        for i in range(5):
            publisher.publish(decision("rock", 1.0 + i))
        assert publisher.wait_idle(5)
    messages = [json.loads(p) for p in subscriber.wait_for(5, 5)]
    assert [m["time"] for m in messages] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert messages[0] == {"label": "rock", "confidence": 0.875, "scores": {"rock": 0.875, "other": 0.125},
                           "time": 1.0}
    assert publisher.stats.sent == 5


def test_wrong_password_is_reported_and_publishing_never_raises(
    broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    subscriber = subscribe("siot/wrong")
    events = Events()
    settings = PushSettings.from_url(broker.url("siot/wrong", password="nope"))
    publisher = MqttPublisher(settings, on_status=events)
    publisher.start()
    events.wait(lambda s: s.state == "refused")
    for i in range(20):
        publisher.publish(decision(f"w{i}"))
    events.wait(lambda s: s.state == "retrying")
    stats = publisher.stop()
    assert NOT_AUTHORISED == "not authorised: check the user name and password"
    assert NOT_AUTHORISED in events.messages()
    assert (stats.sent, stats.lost, stats.connected) == (0, 20, False)
    assert subscriber.wait_quiet(0.3) == []
    assert all("nope" not in m for m in events.messages())


def test_absent_broker_is_reported_with_retries() -> None:
    port = free_port()
    events = Events()
    publisher = MqttPublisher(PushSettings.from_url(f"mqtt://siot:dfrobot@127.0.0.1:{port}/siot/x"),
                              on_status=events).start()
    assert publisher.wait_attempt(5) == PushStatus("unreachable", f"cannot reach 127.0.0.1:{port}")
    for i in range(5):
        publisher.publish(decision(f"a{i}"))
    retry = events.wait(lambda s: s.state == "retrying")
    again = events.wait(lambda s: s.state == "unreachable", after=retry + 0.5)
    stats = publisher.stop()
    assert again - retry >= 2.5  # the first wait after a failed first connection is 1 s + 2 s in paho 2.x
    assert [s for s in events.states() if s == "retrying"][:2] == ["retrying", "retrying"]
    retries = [s.retry_in for _, s in events.items if s.state == "retrying"]
    assert retries[:2] == [3.0, 4.0]
    assert (stats.sent, stats.lost) == (0, 5)


def test_stalled_broker_drops_the_oldest_pending(
    broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    """A broker that stops reading (SIGSTOP) fills the window of unconfirmed QoS 1 messages, then the
    bounded queue; the oldest queued decisions are dropped and the newest survive."""
    from core.push.mqtt import WINDOW

    subscriber = subscribe("siot/stall")
    settings = PushSettings.from_url(broker.url("siot/stall"), on_change=False, qos=1, queue_size=16)
    publisher = MqttPublisher(settings).start()
    assert publisher.wait_connected(5)
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP)
    try:
        for i in range(WINDOW):  # one at a time, so the worker hands each to paho: a full window
            publisher.publish(decision(f"s{i}"))
            deadline = time.monotonic() + 5
            while publisher.stats.in_flight <= i and time.monotonic() < deadline:
                time.sleep(0.002)
        for i in range(WINDOW, 200):
            publisher.publish(decision(f"s{i}"))
        time.sleep(0.2)
        stalled = publisher.stats
    finally:
        os.kill(broker.process.pid, signal.SIGCONT)
    assert publisher.wait_idle(10)
    stats = publisher.stop()
    assert (stalled.in_flight, stalled.queued, stalled.max_queued) == (WINDOW, 16, 16)
    assert (stats.sent, stats.dropped, stats.lost) == (WINDOW + 16, 200 - WINDOW - 16, 0)
    expected = [f"s{i}" for i in range(WINDOW)] + [f"s{i}" for i in range(200 - 16, 200)]
    assert subscriber.wait_for(len(expected), 10) == expected


def test_broker_killed_and_restarted_mid_stream(
    broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    """Only what was published while the broker was down is lost, counted; publishing resumes by itself."""
    subscriber = subscribe("siot/restart")
    time.sleep(1.2)  # the broker saves the subscriber's session every second: it outlives the kill
    events = Events()
    settings = PushSettings.from_url(broker.url("siot/restart"), on_change=False, qos=1)
    publisher = MqttPublisher(settings, on_status=events).start()
    assert publisher.wait_connected(5)
    sent: list[int] = []
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            publisher.publish(decision(f"n{i}", i * 0.05))
            sent.append(i)
            i += 1
            time.sleep(0.05)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        time.sleep(1.0)
        broker.stop(kill=True)
        events.wait(lambda s: s.state == "lost")
        time.sleep(2.0)
        restarted = time.monotonic()
        broker.start()
        resumed = events.wait(lambda s: s.state == "connected", timeout=15, after=restarted)
        time.sleep(1.0)
    finally:
        stop.set()
        streamer.join()
    assert publisher.wait_idle(10)
    stats = publisher.stop()
    received = [int(p[1:]) for p in subscriber.wait_quiet(0.5)]
    unique = [n for k, n in enumerate(received) if n not in received[:k]]  # QoS 1 may repeat one
    missing = sorted(set(sent) - set(unique))

    assert unique == sorted(unique), "messages arrived out of order"
    # paho's backoff doubles from 1 s up to 8 s; the outage is short, so the next try comes within 4 s.
    assert resumed - restarted < 8.0, "publishing did not resume within a few seconds"
    assert stats.received == len(sent)
    assert stats.sent + stats.lost == len(sent)
    assert stats.lost >= 20  # about 2 s at 20 decisions a second
    assert missing == list(range(missing[0], missing[0] + len(missing))), "losses outside the outage"
    # A broker killed with -9 may have acknowledged one last message without forwarding it.
    assert len(missing) - stats.lost in (0, 1)
    assert unique[-1] == sent[-1]
    assert [s for s in events.states() if s in ("lost", "connected")][-2:] == ["lost", "connected"]


def test_tls_with_the_brokers_ca_file(broker: Broker, subscribe: Callable[[str], Subscriber]) -> None:
    subscriber = subscribe("siot/tls")
    settings = PushSettings.from_url(broker.url("siot/tls", tls=True), ca_file=str(broker.ca_file))
    assert settings.tls and settings.port == broker.tls_port
    with MqttPublisher(settings) as publisher:
        assert publisher.wait_connected(5)
        publisher.publish(decision("secure"))
        assert publisher.wait_idle(5)
    assert subscriber.wait_for(1, 5) == ["secure"]


def test_tls_with_an_unknown_certificate_is_reported(broker: Broker) -> None:
    events = Events()
    settings = PushSettings.from_url(broker.url("siot/tls", tls=True))  # no CA file: the system's CAs
    publisher = MqttPublisher(settings, on_status=events).start()
    outcome = publisher.wait_attempt(5)
    publisher.publish(decision("x"))
    stats = publisher.stop()
    assert outcome is not None and outcome.state == "unreachable"
    assert outcome.message == (f"cannot reach 127.0.0.1:{broker.tls_port} "
                               "(check the CA file and that the broker speaks TLS there)")
    assert (stats.sent, stats.lost) == (0, 1)


def test_missing_ca_file_is_an_error_before_starting(tmp_path) -> None:
    from core.errors import PushError

    settings = PushSettings.from_url("mqtts://siot:dfrobot@127.0.0.1/x", ca_file=str(tmp_path / "nope.crt"))
    with pytest.raises(PushError, match="cannot read the CA file"):
        MqttPublisher(settings).start()


def test_min_interval_holds_a_quick_change_and_sends_it_later(
    broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    subscriber = subscribe("siot/interval")
    settings = PushSettings.from_url(broker.url("siot/interval"), min_interval=0.6)
    with MqttPublisher(settings) as publisher:
        assert publisher.wait_connected(5)
        publisher.publish(decision("yes"))
        publisher.publish(decision("no"))  # within 0.6 s: held
        publisher.publish(decision("up"))  # replaces the held change
        assert subscriber.wait_for(1, 5) == ["yes"]
        assert publisher.wait_idle(5)
    assert subscriber.wait_for(2, 5) == ["yes", "up"]
    first, second = subscriber.messages
    assert second.arrived - first.arrived >= 0.5  # sent when the interval ended, not before
    assert publisher.stats.skipped == 1 and publisher.stats.sent == 2
