"""What the app talks to outside itself, handed to the App's constructor: microphones, serial ports
and the MQTT publisher. Tests hand in their own (the PulseAudio virtual mic, a fixed port list)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui.sources import AudioBackend, default_backend


def usb_serial_ports() -> list[Any]:
    """USB serial ports that can be boards (core.deploy.ports.BoardPort), known makers first."""
    from core.deploy.ports import list_board_ports

    return list(list_board_ports())


def mqtt_publisher(settings: Any, on_status: Callable[[Any], None]) -> Any:
    from core.push.mqtt import MqttPublisher

    return MqttPublisher(settings, on_status=on_status)


@dataclass(frozen=True)
class TestDecision:
    """What "Send test message" publishes: shaped like a live decision."""

    time: float
    label: str = "test"
    confidence: float = 1.0
    scores: dict[str, float] = field(default_factory=lambda: {"test": 1.0})


class PushLink:
    """The one publisher that live decisions go to while pushing; `publisher` is None otherwise."""

    def __init__(self, make: Callable[[Any, Callable[[Any], None]], Any] = mqtt_publisher) -> None:
        self._make = make
        self.publisher: Any = None

    @property
    def active(self) -> bool:
        return self.publisher is not None

    def start(self, settings: Any, on_status: Callable[[Any], None]) -> Any:
        """Create and start a publisher (raises PushError for unusable settings)."""
        publisher = self._make(settings, on_status)
        publisher.start()
        self.publisher = publisher
        return publisher

    def publish(self, decision: Any) -> None:
        """Hand a decision to the publisher, if pushing (safe from any thread; never blocks)."""
        publisher = self.publisher
        if publisher is not None:
            publisher.publish(decision)

    @property
    def last(self) -> str | None:
        """The last message handed to the broker (the label, or the JSON text)."""
        return getattr(self.publisher, "last_payload", None)

    def send_test(self) -> None:
        """Publish a decision labelled "test" (goes out like any other, once connected)."""
        self.publish(TestDecision(time.monotonic()))

    def detach(self) -> Any:
        """Stop routing decisions to the publisher and return it (to be stopped in a worker)."""
        publisher, self.publisher = self.publisher, None
        return publisher


@dataclass
class Services:
    """The outside world of the app. `prewarm` imports TensorFlow when the Train tab is first shown."""

    microphones: AudioBackend = field(default_factory=default_backend)
    serial_ports: Callable[[], list[Any]] = usb_serial_ports
    push: PushLink = field(default_factory=PushLink)
    prewarm: bool = True
