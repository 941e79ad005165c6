"""Publish live decisions to an MQTT broker (DFRobot SIoT or any other) without slowing the audio loop.

`MqttPublisher.publish(decision)` only applies the publishing policy and appends to a bounded queue;
a worker thread hands messages to paho (whose own network thread is started by `loop_start`), keeping
at most `WINDOW` messages unconfirmed, so a slow broker backs the queue up and the oldest pending
decisions are dropped and counted. Decisions published while the broker is unreachable are lost and
counted; paho reconnects with exponential backoff and publishing resumes by itself.

Connection status is reported as `PushStatus` events through `on_status` (called from paho's thread):
connecting, connected, refused, unreachable, lost, retrying, stopped. Nothing here raises into the
caller once `start()` has returned.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import PushError
from core.push.policy import DecisionLike, PublishPolicy
from core.push.settings import PushSettings

# Messages handed to paho but not yet written (QoS 0) or acknowledged (QoS 1).
WINDOW = 20
KEEPALIVE_SECONDS = 15
NOT_AUTHORISED = "not authorised: check the user name and password"

State = Literal["connecting", "connected", "refused", "unreachable", "lost", "retrying", "stopped"]


@dataclass(frozen=True)
class PushStatus:
    """One connection event; `message` is a line for the user (never contains the password).

    `reason` is why the link is down (refused, unreachable or lost), carried by every later event
    until a connection succeeds, so a "retrying in 8 s" line can still say what went wrong.
    """

    state: State
    message: str
    retry_in: float | None = None
    reason: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        return self.state == "connected"


@dataclass(frozen=True)
class PushStats:
    """Counts since start. received = sent + skipped + dropped + lost + queued + in_flight (+ held).

    skipped: not published by choice (unchanged label, minimum interval); dropped: oldest pending
    decisions thrown away because the broker was too slow; lost: published while disconnected.
    """

    received: int
    sent: int
    skipped: int
    dropped: int
    lost: int
    queued: int
    in_flight: int
    max_queued: int
    connected: bool

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.dropped} dropped (broker too slow), "
            f"{self.lost} lost (not connected), {self.skipped} skipped (unchanged or too soon)"
        )


def encode_payload(decision: DecisionLike, payload: str) -> bytes:
    """`label`: the bare label text; `json`: {"label", "confidence", "scores", "time"}."""
    if payload == "label":
        return str(decision.label).encode("utf-8")
    return json.dumps(
        {
            "label": str(decision.label),
            "confidence": _number(decision.confidence, 4),
            "scores": {str(k): _number(v, 4) for k, v in decision.scores.items()},
            "time": _number(decision.time, 3),
        },
        separators=(",", ":"),
    ).encode("utf-8")


def _number(value: Any, digits: int) -> float | None:
    number = float(value)
    return round(number, digits) if math.isfinite(number) else None


def refusal_message(reason: Any) -> str:
    """A readable line for a CONNACK failure reason."""
    text = str(reason)
    if "authori" in text.lower() or "user name or password" in text.lower():
        return NOT_AUTHORISED
    return f"refused by the broker: {text}"


class MqttPublisher:
    """Publishes decisions to `settings.topic`. start() once, publish() from any thread, stop() at the end."""

    def __init__(
        self,
        settings: PushSettings,
        *,
        on_status: Callable[[PushStatus], None] | None = None,
        min_retry: int = 1,
        max_retry: int = 8,
    ) -> None:
        self.settings = settings
        self.on_status = on_status
        self.status: PushStatus | None = None
        self._min_retry, self._max_retry = min_retry, max_retry
        self._policy: PublishPolicy[DecisionLike] = PublishPolicy(
            on_change=settings.on_change, min_interval=settings.min_interval
        )
        self._cond = threading.Condition()
        self._queue: deque[DecisionLike] = deque()
        self._in_flight: set[int] = set()
        self._early: set[int] = set()  # confirmed by paho before publish() returned their id
        self._connected = False
        self._stopping = False
        self._outcome: PushStatus | None = None  # the latest connection attempt's result
        self._retry_delay: float | None = None  # mirrors paho's backoff to report "retrying in N s"
        self._reason = ""  # the last failure, until connected
        self.last_payload: str | None = None  # the last message handed to the broker connection
        self._counts = dict(received=0, sent=0, dropped=0, lost=0, max_queued=0)
        self._client: Any = None
        self._worker: threading.Thread | None = None

    # -- the caller's side -------------------------------------------------------------------

    def start(self) -> MqttPublisher:
        """Start connecting in the background. Raises PushError only for unusable settings (CA file)."""
        from paho.mqtt.client import CallbackAPIVersion, Client

        if self._client is not None:
            return self
        settings = self.settings
        if settings.ca_file is not None and not os.access(settings.ca_file, os.R_OK):
            raise PushError(f"cannot read the CA file {settings.ca_file}", "give the broker's CA certificate")
        client = Client(CallbackAPIVersion.VERSION2, client_id=f"earshot-{uuid.uuid4().hex[:12]}")
        client.username_pw_set(settings.username or None, settings.password or None)
        if settings.tls:
            try:
                client.tls_set(ca_certs=settings.ca_file)
            except (OSError, ValueError) as error:
                raise PushError(f"cannot set up TLS: {error}", "check the CA file") from None
        client.max_inflight_messages_set(WINDOW)
        client.reconnect_delay_set(self._min_retry, self._max_retry)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        self._worker = threading.Thread(target=self._run, name="earshot-push", daemon=True)
        self._worker.start()
        client.connect_async(settings.host, settings.port, keepalive=KEEPALIVE_SECONDS)
        client.loop_start()
        return self

    def publish(self, decision: DecisionLike) -> None:
        """Queue a decision for publishing. Never blocks on the network and never raises."""
        try:
            with self._cond:
                self._counts["received"] += 1
                if self._stopping:
                    self._counts["lost"] += 1
                    return
                accepted = self._policy.offer(decision, time.monotonic())
                if accepted is not None:
                    self._enqueue(accepted)
                self._cond.notify_all()
        except Exception:  # noqa: BLE001 (a malformed decision must not stop the audio loop)
            with self._cond:
                self._counts["dropped"] += 1

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected; False if not connected within `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._connected, timeout)

    def wait_attempt(self, timeout: float) -> PushStatus | None:
        """Wait for the first connection outcome; return the latest (connected, refused or unreachable)."""
        with self._cond:
            self._cond.wait_for(lambda: self._outcome is not None, timeout)
            return self._outcome

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued message has been handed over and confirmed (or timeout)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._queue and not self._in_flight and self._policy.deadline is None, timeout
            )

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def stats(self) -> PushStats:
        with self._cond:
            c = self._counts
            return PushStats(
                received=c["received"],
                sent=c["sent"],
                skipped=self._policy.skipped,
                dropped=c["dropped"],
                lost=c["lost"],
                queued=len(self._queue),
                in_flight=len(self._in_flight),
                max_queued=c["max_queued"],
                connected=self._connected,
            )

    def stop(self, timeout: float = 2.0) -> PushStats:
        """Send what is pending (up to `timeout` seconds if connected), disconnect, return the counts."""
        if self._client is None:
            return self.stats
        if self._connected:
            self.wait_idle(timeout)
        with self._cond:
            self._stopping = True
            pending = len(self._queue) + len(self._in_flight) + (self._policy.deadline is not None)
            self._counts["lost"] += pending
            self._queue.clear()
            self._in_flight.clear()
            self._cond.notify_all()
        self._client.disconnect()
        self._client.loop_stop()
        if self._worker is not None:
            self._worker.join(timeout)
        stats = self.stats
        self._emit(PushStatus("stopped", f"stopped: {stats.summary()}"))
        self._client = None
        return stats

    def __enter__(self) -> MqttPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the worker thread -------------------------------------------------------------------

    def _enqueue(self, decision: DecisionLike) -> None:
        """With the lock held: queue for sending, or count as lost while disconnected."""
        if not self._connected:
            self._counts["lost"] += 1
            return
        if len(self._queue) >= self.settings.queue_size:
            self._queue.popleft()
            self._counts["dropped"] += 1
        self._queue.append(decision)
        self._counts["max_queued"] = max(self._counts["max_queued"], len(self._queue))

    def _next(self) -> DecisionLike | None:
        """Block until a decision can be handed to paho; None when stopping."""
        with self._cond:
            while not self._stopping:
                held = self._policy.due(time.monotonic())
                if held is not None:
                    self._enqueue(held)
                if self._queue and self._connected and len(self._in_flight) < WINDOW:
                    return self._queue.popleft()
                deadline = self._policy.deadline
                self._cond.wait(None if deadline is None else max(0.001, deadline - time.monotonic()))
            return None

    def _run(self) -> None:
        settings = self.settings
        while (decision := self._next()) is not None:
            try:
                payload = encode_payload(decision, settings.payload)
            except (TypeError, ValueError, AttributeError):  # not a decision: nothing to send
                with self._cond:
                    self._counts["dropped"] += 1
                continue
            try:
                info = self._client.publish(settings.topic, payload, qos=settings.qos)
            except (OSError, ValueError, RuntimeError):  # the client went away between check and send
                with self._cond:
                    self._counts["lost"] += 1
                continue
            if info.rc == 0:
                self.last_payload = payload.decode("utf-8", errors="replace")
            with self._cond:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self._counts["sent"] += 1
                elif settings.qos > 0 or (info.rc == 0 and self._connected):
                    self._in_flight.add(info.mid)  # QoS 1 is kept by paho for the next connection
                else:
                    self._counts["lost"] += 1

    # -- paho callbacks (paho's network thread) ----------------------------------------------

    def _on_pre_connect(self, client: Any, userdata: Any) -> None:
        settings = self.settings
        self._emit(PushStatus("connecting", f"connecting to {settings.address} as {settings.username}",
                              reason=self._reason))

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._reason = refusal_message(reason)
            self._emit_outcome(PushStatus("refused", self._reason, reason=self._reason))
            return
        self._retry_delay = None
        self._reason = ""
        with self._cond:
            if self.settings.qos == 0:  # handed over while the link was dying: paho dropped them
                self._counts["lost"] += len(self._in_flight)
                self._in_flight.clear()
            self._connected = True
            self._policy.forget()
        settings = self.settings
        message = f"connected to {settings.address}, topic {settings.topic}"
        self._emit_outcome(PushStatus("connected", message))

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        first = self._outcome is None
        hint = " (check the CA file and that the broker speaks TLS there)" if self.settings.tls else ""
        self._reason = f"cannot reach {self.settings.address}{hint}"
        self._emit_outcome(PushStatus("unreachable", self._reason, reason=self._reason))
        self._announce_retry(first_connection=first)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._cond:
            was_connected, self._connected = self._connected, False
            self._counts["lost"] += len(self._queue)
            self._queue.clear()
            if self.settings.qos == 0:  # paho throws away unwritten QoS 0 packets on reconnect
                self._counts["lost"] += len(self._in_flight)
                self._in_flight.clear()
            self._cond.notify_all()
        if self._stopping:
            return
        if was_connected:
            detail = "" if str(reason) in ("Unspecified error", "Success") else f" ({reason})"
            self._reason = f"connection to {self.settings.address} lost{detail}"
            self._emit(PushStatus("lost", self._reason, reason=self._reason))
        self._announce_retry()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._cond:
            if mid in self._in_flight:
                self._in_flight.discard(mid)
                self._counts["sent"] += 1
            elif not self._stopping:
                self._early.add(mid)
            self._cond.notify_all()

    # -- helpers -----------------------------------------------------------------------------

    def _emit_outcome(self, status: PushStatus) -> None:
        with self._cond:
            self._outcome = status
            self._cond.notify_all()
        self._emit(status)

    def _announce_retry(self, *, first_connection: bool = False) -> None:
        """paho waits min_retry, then doubles up to max_retry, until a connection succeeds.

        When the very first TCP connection fails, paho 2.x waits twice (min_retry, then 2 * min_retry)
        before trying again: `loop_forever` retries the first connection in its own loop.
        """
        previous = self._retry_delay
        delay = self._min_retry if previous is None else min(previous * 2, self._max_retry)
        self._retry_delay = delay
        if first_connection and previous is None:
            self._retry_delay = min(delay * 2, self._max_retry)
            delay += self._retry_delay
        self._emit(PushStatus("retrying", f"retrying in {delay:g} s", retry_in=float(delay),
                              reason=self._reason))

    def _emit(self, status: PushStatus) -> None:
        self.status = status
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:  # noqa: BLE001 (a display problem must not break publishing)
                pass
