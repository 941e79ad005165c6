"""Why the push is not connected stays known: every status after a failure carries its reason."""

from __future__ import annotations

import threading

import pytest

from core.push import NOT_AUTHORISED, MqttPublisher, PushSettings, PushStatus
from tests.fixtures.broker import Broker, free_port

pytestmark = pytest.mark.hardware


def collect(settings: PushSettings, until: str) -> list[PushStatus]:
    seen: list[PushStatus] = []
    done = threading.Event()

    def on_status(status: PushStatus) -> None:
        seen.append(status)
        if status.state == until:
            done.set()

    publisher = MqttPublisher(settings, on_status=on_status).start()
    try:
        assert done.wait(15), [s.message for s in seen]
    finally:
        publisher.stop()
    return seen


def test_a_wrong_password_is_the_reason_while_retrying(broker: Broker) -> None:
    settings = PushSettings(host=broker.host, port=broker.port, username=broker.user, password="wrong",
                            topic="earshot/reason")
    seen = collect(settings, "retrying")
    retry = next(s for s in seen if s.state == "retrying")
    assert retry.message.startswith("retrying in") and retry.reason == NOT_AUTHORISED


def test_an_absent_broker_is_the_reason_while_retrying() -> None:
    port = free_port()
    seen = collect(PushSettings(host="127.0.0.1", port=port, topic="earshot/reason"), "retrying")
    retry = next(s for s in seen if s.state == "retrying")
    assert retry.reason == f"cannot reach 127.0.0.1:{port}"
