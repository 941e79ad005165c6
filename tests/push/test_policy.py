"""Which decisions become messages, with the clock given explicitly."""

from __future__ import annotations

import json

from core.infer import Decision
from core.push import PublishPolicy, encode_payload


def d(label: str, t: float = 0.0) -> Decision:
    return Decision(time=t, label=label, confidence=0.9, scores={label: 0.9, "other": 0.1})


def offered(policy: PublishPolicy, labels_at: list[tuple[str, float]]) -> list[str]:
    out = []
    for label, now in labels_at:
        accepted = policy.offer(d(label), now)
        if accepted is not None:
            out.append(accepted.label)
    return out


def test_on_change_publishes_only_new_labels() -> None:
    policy: PublishPolicy = PublishPolicy(on_change=True, min_interval=0)
    labels = ["yes", "yes", "no", "no", "no", "yes", "up"]
    assert offered(policy, [(x, i) for i, x in enumerate(labels)]) == ["yes", "no", "yes", "up"]
    assert policy.skipped == 3


def test_every_decision_with_min_interval_skips_the_ones_in_between() -> None:
    policy: PublishPolicy = PublishPolicy(on_change=False, min_interval=1.0)
    times = [0.0, 0.3, 0.9, 1.0, 1.5, 2.2]
    assert len(offered(policy, [("yes", t) for t in times])) == 3  # 0.0, 1.0, 2.2
    assert policy.skipped == 3
    assert policy.deadline is None


def test_a_change_inside_the_interval_is_held_then_sent() -> None:
    policy: PublishPolicy = PublishPolicy(on_change=True, min_interval=1.0)
    assert policy.offer(d("yes"), 0.0) is not None
    assert policy.offer(d("no"), 0.2) is None
    assert policy.deadline == 1.0
    assert policy.due(0.5) is None
    held = policy.due(1.0)
    assert held is not None and held.label == "no"
    assert policy.offer(d("no"), 1.1) is None  # already published


def test_a_held_change_that_goes_back_is_never_sent() -> None:
    policy: PublishPolicy = PublishPolicy(on_change=True, min_interval=1.0)
    policy.offer(d("yes"), 0.0)
    policy.offer(d("no"), 0.2)
    policy.offer(d("yes"), 0.4)
    assert policy.deadline is None and policy.due(5.0) is None
    assert policy.skipped == 2


def test_forget_publishes_the_current_label_again() -> None:
    policy: PublishPolicy = PublishPolicy(on_change=True, min_interval=0)
    policy.offer(d("yes"), 0.0)
    policy.forget()
    assert policy.offer(d("yes"), 1.0) is not None


def test_payloads() -> None:
    scores = {"rock": 0.91234, "jazz": 0.08}
    decision = Decision(time=12.3456, label="rock", confidence=0.91234, scores=scores)
    assert encode_payload(decision, "label") == b"rock"
    message = json.loads(encode_payload(decision, "json"))
    assert message == {"label": "rock", "confidence": 0.9123, "scores": {"rock": 0.9123, "jazz": 0.08},
                       "time": 12.346}


def test_json_payload_accepts_numpy_numbers() -> None:
    import numpy as np

    decision = Decision(time=np.float64(1.0), label="yes", confidence=np.float32(0.5),  # type: ignore[arg-type]
                        scores={"yes": np.float32(0.5), "no": np.float32("nan")})
    assert json.loads(encode_payload(decision, "json"))["scores"] == {"yes": 0.5, "no": None}


def test_publish_never_raises_into_the_caller() -> None:
    from core.push import MqttPublisher, PushSettings

    publisher = MqttPublisher(PushSettings(on_change=False))  # not started: nothing is connected
    publisher.publish(d("yes"))
    publisher.publish(object())  # type: ignore[arg-type]
    stats = publisher.stats
    assert (stats.received, stats.lost, stats.dropped, stats.sent) == (2, 1, 1, 0)
    assert publisher.stop() == stats
