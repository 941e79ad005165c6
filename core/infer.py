"""Streaming classification: turn a stream of audio blocks into decisions.

The windowing, smoothing and threshold logic is the runtime's (`core.runtime.stream`, also copied into
exports and run on boards): every hop (0.25 s by default) the clip that ends on a hop boundary of the
stream is classified, the scores are averaged over the last few windows, and a decision is reported
when the smoothed top label is confident enough and is not the word just reported, so one spoken word
is reported once. This module adds earshot's settings (with clear errors) and `listen`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.errors import CaptureError
from core.runtime.stream import Decision, Streamer, Window
from core.spec import BACKGROUND_NOISE, AudioSpec


class ScoresModel(Protocol):
    """What streaming needs from a classifier (core.classifier.Classifier provides it)."""

    labels: Sequence[str]
    audio: AudioSpec

    def scores(self, clip: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class StreamSettings:
    """How windows become decisions.

    hop_seconds: time between classified windows. smooth_windows: how many windows' scores are
    averaged. threshold: smallest smoothed confidence that counts. suppress_seconds: a label is not
    reported again within this time unless another label was confident in between.
    report_background: also report the Background Noise class as a decision.
    """

    hop_seconds: float = 0.25
    smooth_windows: int = 3
    threshold: float = 0.5
    suppress_seconds: float = 1.5
    report_background: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.hop_seconds <= 10:
            raise CaptureError(f"hop of {self.hop_seconds} s is out of range", "use 0.05 to 10 seconds")
        if self.smooth_windows < 1:
            raise CaptureError("smoothing needs at least one window", "use 1 or more windows")
        if not 0 <= self.threshold <= 1:
            raise CaptureError(f"threshold {self.threshold} is out of range", "use a value from 0 to 1")


class StreamingClassifier(Streamer):
    """Feed audio blocks at the model's sample rate; get windows and decisions back (see
    `core.runtime.stream.Streamer`, which boards run too)."""

    def __init__(self, model: ScoresModel, settings: StreamSettings | None = None) -> None:
        self.model = model
        self.settings = settings or StreamSettings()
        s = self.settings
        super().__init__(model.scores, list(model.labels), model.audio.sample_rate, model.audio.clip_samples,
                         hop_seconds=s.hop_seconds, smooth_windows=s.smooth_windows, threshold=s.threshold,
                         suppress_seconds=s.suppress_seconds, report_background=s.report_background,
                         background=BACKGROUND_NOISE)

    def _classify(self) -> Window:
        try:
            return super()._classify()
        except ValueError as exc:
            raise CaptureError(str(exc), "retrain or re-export the model") from exc


@dataclass(frozen=True)
class ListenSummary:
    """How a listening session ended: stream seconds, windows, decisions, and why it stopped."""

    seconds: float
    windows: int
    decisions: int
    overflows: int
    reason: str  # "seconds", "end", "cancelled"


def listen(
    source: Any,
    streaming: StreamingClassifier,
    *,
    seconds: float | None = None,
    cancel: threading.Event | None = None,
    on_window: Callable[[Window], None] | None = None,
    on_decision: Callable[[Decision], None] | None = None,
) -> ListenSummary:
    """Read a started `source` (core.capture.AudioSource) and classify it until `seconds` of audio,
    the end of the source, or `cancel`."""
    if source.sample_rate != streaming.sample_rate:
        raise CaptureError(f"the source gives {source.sample_rate} Hz but the model needs "
                           f"{streaming.sample_rate} Hz", "open the source at the model's rate")
    cancel = cancel or threading.Event()
    limit = None if seconds is None else int(round(seconds * streaming.sample_rate))
    decisions = 0
    reason = "cancelled"

    def handle(windows: list[Window]) -> None:
        nonlocal decisions
        for window in windows:
            if window.decision is not None:
                decisions += 1
                if on_decision is not None:
                    on_decision(window.decision)
            if on_window is not None:
                on_window(window)

    while not cancel.is_set():
        block = source.read(timeout=0.1)
        if block is None:
            handle(streaming.flush())
            reason = "end"
            break
        if limit is not None:
            block = block[: max(0, limit - streaming.samples_seen)]
        handle(streaming.process(block))
        if limit is not None and streaming.samples_seen >= limit:
            reason = "seconds"
            break
    return ListenSummary(streaming.samples_seen / streaming.sample_rate, streaming.windows, decisions,
                         int(getattr(source, "overflows", 0)), reason)
