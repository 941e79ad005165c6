"""Where and how live results are pushed: broker, credentials, topic and publishing policy.

One `PushSettings` value, built from keyword arguments, from a URL
(`mqtt://user:pass@host:port/topic`, `mqtts://...` for TLS on 8883) or from the project's saved
"push" section. The password never appears in `repr`, `display_url` or `redacted`.

`parse_mqtt_url` is the one reader of broker addresses: `listen --push`, `flash --mqtt` (the board's
subscription) and the app all use it, with the one default topic `default_topic(project name)`, so a
board flashed with `--mqtt mqtt://HOST` hears what `listen --push mqtt://HOST` publishes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from core.errors import PushError

# DFRobot SIoT's out-of-the-box broker.
SIOT_USER = "siot"
SIOT_PASSWORD = "dfrobot"
DEFAULT_HOST = "localhost"
MQTT_PORT = 1883
MQTTS_PORT = 8883
PAYLOADS = ("label", "json")
SECTION = "push"

Payload = Literal["label", "json"]


def default_topic(project_name: str) -> str:
    """SIoT's `project/device` form: `siot/<project name>` with characters MQTT topics dislike removed
    (`siot/earshot` without a name). The one default topic of every command."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", project_name.strip()).strip("-") or "earshot"
    return f"siot/{name}"


DEFAULT_TOPIC = default_topic("")


@dataclass(frozen=True)
class MqttAddress:
    """What a broker URL says: where the broker is, who to log in as, and the topic."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    topic: str
    tls: bool


def parse_mqtt_url(url: str, *, topic: str) -> MqttAddress:
    """Read `mqtt://user:password@host:port/topic` (`mqtts://` for TLS; a bare `host[:port]` means
    mqtt://). Missing parts are SIoT's: user siot, password dfrobot, port 1883 (8883 with TLS), and
    `topic` (pass `default_topic(project name)`). Anything unusable raises PushError.
    """
    text = url.strip()
    if "://" not in text:
        text = f"mqtt://{text}"
    parts = urlsplit(text)
    scheme = "mqtt" if parts.scheme == "tcp" else parts.scheme
    if scheme not in ("mqtt", "mqtts"):
        raise PushError(f"not an MQTT address: {redact_url(url)!r}",
                        "use mqtt://user:password@host:port/topic, or mqtts://... for TLS")
    tls = scheme == "mqtts"
    try:
        port = parts.port
    except ValueError:
        raise PushError(f"bad port in {redact_url(url)!r}", "the port is a number from 1 to 65535") from None
    if port == 0:
        raise PushError(f"bad port in {redact_url(url)!r}", "the port is a number from 1 to 65535")
    if not parts.hostname:
        raise PushError(f"no broker host in {redact_url(url)!r}", "write mqtt://host:1883/topic")
    named = unquote(parts.path.lstrip("/")) + ("#" if "#" in url else "")  # wildcards are refused
    address = MqttAddress(
        host=parts.hostname,
        port=port or (MQTTS_PORT if tls else MQTT_PORT),
        username=unquote(parts.username) if parts.username is not None else SIOT_USER,
        password=unquote(parts.password or "") if parts.username is not None else SIOT_PASSWORD,
        topic=named or topic,
        tls=tls,
    )
    if any(c.isspace() for c in address.host):
        raise PushError(f"bad broker host {address.host!r}", "give a host name or IP address")
    if not address.topic or any(c in address.topic for c in "#+\0"):
        raise PushError(f"bad topic {address.topic!r}",
                        "a topic is like project/device, without # or + wildcards")
    return address


@dataclass(frozen=True)
class PushSettings:
    """Everything the publisher needs. `min_interval` is in seconds; 0 means no limit."""

    host: str = DEFAULT_HOST
    port: int = MQTT_PORT
    username: str = SIOT_USER
    password: str = field(default=SIOT_PASSWORD, repr=False)
    topic: str = DEFAULT_TOPIC
    qos: int = 0
    payload: Payload = "label"
    on_change: bool = True
    min_interval: float = 0.0
    tls: bool = False
    ca_file: str | None = None
    queue_size: int = 256

    def __post_init__(self) -> None:
        check(self)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PushSettings:
        """Parse `mqtt://user:pass@host:port/topic` (or `mqtts://`); `options` set the other fields.

        A missing user/password means SIoT's defaults; a missing port means 1883 (8883 for mqtts);
        a missing topic means `options["topic"]`, else the default topic.
        """
        address = parse_mqtt_url(url, topic=options.get("topic") or cls.topic)
        values = {"host": address.host, "port": address.port, "tls": address.tls, "topic": address.topic,
                  "username": address.username, "password": address.password}
        return cls(**{**options, **values})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushSettings:
        """Settings saved by `to_dict`; unknown keys are ignored, bad values raise PushError."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        try:
            for name, kind in (("port", int), ("qos", int), ("queue_size", int), ("min_interval", float)):
                if name in values:
                    values[name] = kind(values[name])
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise PushError(
                f"the saved push settings are damaged ({error})", "set them again with --push URL"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """Everything, password included: for the project file only, never for display."""
        return asdict(self)

    def redacted(self) -> dict[str, Any]:
        """`to_dict` with the password hidden: safe to print, log or show."""
        return {**self.to_dict(), "password": "***" if self.password else ""}

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def display_url(self) -> str:
        """The URL with the password hidden, e.g. mqtt://siot:***@host:1883/siot/genre."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = quote(self.username, safe="")
        auth = f"{user}:***@" if self.password else (f"{user}@" if user else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{auth}{host}:{self.port}/{self.topic}"

    def url(self) -> str:
        """The URL with the password: what `from_url` reads back. Not for display."""
        return self.display_url.replace(":***@", f":{quote(self.password, safe='')}@", 1)

    def with_options(self, **changes: Any) -> PushSettings:
        return replace(self, **changes)

    def __str__(self) -> str:
        return self.display_url


def check(settings: PushSettings) -> None:
    """Raise PushError for values the broker or the publisher would reject."""
    if not settings.host or any(c.isspace() for c in settings.host):
        raise PushError(f"bad broker host {settings.host!r}", "give a host name or IP address")
    if not 1 <= int(settings.port) <= 65535:
        raise PushError(f"bad broker port {settings.port}", "the port is a number from 1 to 65535")
    if not settings.topic or any(c in settings.topic for c in "#+\0"):
        raise PushError(
            f"bad topic {settings.topic!r}", "a topic is like project/device, without # or + wildcards"
        )
    if settings.qos not in (0, 1):
        raise PushError(f"unsupported QoS {settings.qos}", "use 0 (at most once) or 1 (at least once)")
    if settings.payload not in PAYLOADS:
        raise PushError(f"unknown payload {settings.payload!r}", "use label or json")
    if settings.min_interval < 0:
        raise PushError(f"negative minimum interval {settings.min_interval}", "give seconds >= 0")
    if settings.queue_size < 1:
        raise PushError(f"queue size {settings.queue_size} is too small", "give at least 1")
    if settings.ca_file is not None and not settings.tls:
        raise PushError("a CA file is only used with TLS", "use an mqtts:// address (port 8883)")


def redact_url(url: str) -> str:
    """A URL with any password replaced by ***, for error messages."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def load_push_settings(project: Any) -> PushSettings | None:
    """The project's saved push settings, or None if there are none."""
    saved = project.settings(SECTION)
    return PushSettings.from_dict(saved) if saved else None


def save_push_settings(project: Any, settings: PushSettings) -> None:
    """Save the settings in the project (the password too: the project file is the user's own)."""
    project.set_settings(SECTION, settings.to_dict())
