"""Streaming decisions: windows cut from a stream of audio blocks, smoothed scores, thresholded labels.

A ring buffer holds the last clip. Every hop the clip that ends exactly on a hop boundary of the stream
is scored, the scores are averaged over the last `smooth_windows` windows, and a decision is reported
when the smoothed top label reaches `threshold` and is not the label just reported (suppression), so
one spoken word is reported once. Windows are cut at fixed sample positions of the stream, so results
do not depend on the size of the blocks. Python 3.7 syntax, numpy only; copied verbatim into bundles.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence

import numpy as np

BACKGROUND_NOISE = "Background Noise"


@dataclass(frozen=True)
class Decision:
    """A reported label: `time` is the end of its window in seconds of the stream."""

    time: float
    label: str
    confidence: float
    scores: Dict[str, float]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "time": round(self.time, 3),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


@dataclass(frozen=True)
class Window:
    """One scored window: raw and smoothed scores `float32 [n_labels]`, and its decision if any."""

    time: float
    raw: np.ndarray
    smoothed: np.ndarray
    label: str
    confidence: float
    decision: Optional[Decision]
    seconds: float  # time spent scoring it


class Streamer:
    """Feed audio blocks at `sample_rate`; `score(clip float32 [clip_samples]) -> float32 [n_labels]`.

    hop_seconds: time between scored windows. smooth_windows: windows averaged. threshold: smallest
    smoothed confidence that counts. suppress_seconds: a label is not reported again within this time
    unless another label was confident in between. report_background: also report `background`.
    """

    def __init__(self, score: Callable[[np.ndarray], np.ndarray], labels: Sequence[str], sample_rate: int,
                 clip_samples: int, hop_seconds: float = 0.25, smooth_windows: int = 3,
                 threshold: float = 0.5, suppress_seconds: float = 1.5, report_background: bool = False,
                 background: str = BACKGROUND_NOISE) -> None:
        if not 0 < hop_seconds <= 10 or smooth_windows < 1 or not 0 <= threshold <= 1:
            raise ValueError("hop 0.05-10 s, at least one smoothing window, threshold 0-1")
        self.score = score
        self.labels = list(labels)
        self.sample_rate = int(sample_rate)
        self.clip_samples = int(clip_samples)
        self.hop_samples = max(1, int(round(hop_seconds * self.sample_rate)))
        self.smooth_windows = int(smooth_windows)
        self.threshold = float(threshold)
        self.suppress_seconds = float(suppress_seconds)
        self.report_background = bool(report_background)
        self.background = background
        self.reset()

    def reset(self) -> None:
        """Forget all audio and history, as at the start of a stream."""
        self._ring = np.zeros(self.clip_samples, dtype=np.float32)
        self.samples_seen = 0
        self._next_end = self.clip_samples
        self._history: Deque[np.ndarray] = deque(maxlen=self.smooth_windows)
        self._last_label: Optional[str] = None
        self._last_time = -np.inf
        self.windows = 0

    def process(self, block: np.ndarray) -> List[Window]:
        """Add `block: float32 [n]` and score every window that ends inside it."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        windows: List[Window] = []
        position = 0
        while position < block.size:
            take = min(self._next_end - self.samples_seen, block.size - position)
            self._push(block[position:position + take])
            position += take
            if self.samples_seen == self._next_end:
                windows.append(self._classify())
                self._next_end += self.hop_samples
        return windows

    def feed(self, block: np.ndarray) -> List[Decision]:
        """Add a block; return only the decisions."""
        return [w.decision for w in self.process(block) if w.decision is not None]

    def flush(self) -> List[Window]:
        """At the end of a finite stream: pad with silence so its last sound gets scored."""
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
        raw = np.asarray(self.score(self._ring.copy()), dtype=np.float32).reshape(-1)
        if raw.size != len(self.labels):
            raise ValueError("the model gave {} scores for {} labels".format(raw.size, len(self.labels)))
        self._history.append(raw)
        smoothed = np.mean(np.stack(self._history), axis=0).astype(np.float32)
        best = int(np.argmax(smoothed))
        label, confidence = self.labels[best], float(smoothed[best])
        now = self.samples_seen / self.sample_rate
        self.windows += 1
        decision = self._decide(now, label, confidence, smoothed)
        return Window(now, raw, smoothed, label, confidence, decision, time.perf_counter() - started)

    def _decide(self, now: float, label: str, confidence: float, smoothed: np.ndarray) -> Optional[Decision]:
        if confidence < self.threshold:
            return None
        if label == self._last_label and now - self._last_time < self.suppress_seconds:
            # Still the same sound: extend the suppression so a long sound is reported once.
            self._last_time = now
            return None
        self._last_label, self._last_time = label, now
        if label == self.background and not self.report_background:
            return None
        scores = {name: float(s) for name, s in zip(self.labels, smoothed)}
        return Decision(now, label, confidence, scores)
