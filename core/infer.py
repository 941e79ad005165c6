"""Streaming classification: turn a stream of audio blocks into decisions.

A ring buffer holds the last clip. Every hop (0.25 s by default) the clip that ends exactly on a hop
boundary of the stream is classified, the scores are averaged over the last few windows, and a
decision is reported when the smoothed top label is confident enough and is not the word that was
just reported (suppression), so one spoken word is reported once. Windows are cut at fixed sample
positions of the stream, so the results do not depend on the size of the capture blocks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.errors import CaptureError
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


@dataclass(frozen=True)
class Decision:
    """A reported label: `time` is the end of its window in seconds of the stream."""

    time: float
    label: str
    confidence: float
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": round(self.time, 3),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


@dataclass(frozen=True)
class Window:
    """One classified window: raw and smoothed scores `float32 [n_labels]`, and its decision if any."""

    time: float
    raw: np.ndarray
    smoothed: np.ndarray
    label: str
    confidence: float
    decision: Decision | None
    seconds: float  # time spent classifying it


class StreamingClassifier:
    """Feed audio blocks at the model's sample rate; get windows and decisions back."""

    def __init__(self, model: ScoresModel, settings: StreamSettings | None = None) -> None:
        self.model = model
        self.settings = settings or StreamSettings()
        self.labels = list(model.labels)
        self.sample_rate = model.audio.sample_rate
        self.clip_samples = model.audio.clip_samples
        self.hop_samples = max(1, int(round(self.settings.hop_seconds * self.sample_rate)))
        self.reset()

    def reset(self) -> None:
        """Forget all audio and history, as at the start of a stream."""
        self._ring = np.zeros(self.clip_samples, dtype=np.float32)
        self._filled = 0
        self.samples_seen = 0
        self._next_end = self.clip_samples
        self._history: deque[np.ndarray] = deque(maxlen=self.settings.smooth_windows)
        self._last_label: str | None = None
        self._last_time = -np.inf
        self.windows = 0

    def process(self, block: np.ndarray) -> list[Window]:
        """Add `block: float32 [n]` and classify every window that ends inside it."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        windows: list[Window] = []
        position = 0
        while position < block.size:
            take = min(self._next_end - self.samples_seen, block.size - position)
            self._push(block[position:position + take])
            position += take
            if self.samples_seen == self._next_end:
                windows.append(self._classify())
                self._next_end += self.hop_samples
        return windows

    def feed(self, block: np.ndarray) -> list[Decision]:
        """Add a block; return only the decisions."""
        return [w.decision for w in self.process(block) if w.decision is not None]

    def flush(self) -> list[Window]:
        """At the end of a finite stream: pad with silence so its last sound gets classified."""
        pad = self._next_end - self.samples_seen + self.clip_samples - self.hop_samples
        return self.process(np.zeros(max(0, pad), dtype=np.float32))

    def _push(self, samples: np.ndarray) -> None:
        n = samples.size
        if n >= self.clip_samples:
            self._ring[:] = samples[-self.clip_samples:]
        elif n:
            self._ring[:-n] = self._ring[n:]
            self._ring[-n:] = samples
        self.samples_seen += n

    def _classify(self) -> Window:
        started = time.perf_counter()
        raw = np.asarray(self.model.scores(self._ring.copy()), dtype=np.float32).reshape(-1)
        if raw.size != len(self.labels):
            raise CaptureError(f"the model gave {raw.size} scores for {len(self.labels)} labels",
                               "retrain or re-export the model")
        self._history.append(raw)
        smoothed = np.mean(np.stack(self._history), axis=0).astype(np.float32)
        best = int(np.argmax(smoothed))
        label, confidence = self.labels[best], float(smoothed[best])
        now = self.samples_seen / self.sample_rate
        self.windows += 1
        decision = self._decide(now, label, confidence, smoothed)
        return Window(now, raw, smoothed, label, confidence, decision, time.perf_counter() - started)

    def _decide(self, now: float, label: str, confidence: float, smoothed: np.ndarray) -> Decision | None:
        if confidence < self.settings.threshold:
            return None
        if label == self._last_label and now - self._last_time < self.settings.suppress_seconds:
            # Still the same sound: extend the suppression so a long sound is reported once.
            self._last_time = now
            return None
        self._last_label, self._last_time = label, now
        if label == BACKGROUND_NOISE and not self.settings.report_background:
            return None
        scores = {name: float(s) for name, s in zip(self.labels, smoothed, strict=True)}
        return Decision(now, label, confidence, scores)


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
