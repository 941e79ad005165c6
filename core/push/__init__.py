"""Push live results to an MQTT broker (DFRobot SIoT by default): settings, policy and publisher.

Importing this package is cheap; paho is imported when a publisher starts.
"""

from __future__ import annotations

from core.push.mqtt import NOT_AUTHORISED, MqttPublisher, PushStats, PushStatus, encode_payload
from core.push.policy import DecisionLike, PublishPolicy
from core.push.settings import (
    PushSettings,
    default_topic,
    load_push_settings,
    redact_url,
    save_push_settings,
)

__all__ = [
    "NOT_AUTHORISED",
    "DecisionLike",
    "MqttPublisher",
    "PublishPolicy",
    "PushSettings",
    "PushStats",
    "PushStatus",
    "default_topic",
    "encode_payload",
    "load_push_settings",
    "redact_url",
    "save_push_settings",
]
