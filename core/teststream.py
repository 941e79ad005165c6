"""A long test stream: sounds placed at random times over noise, with where each one is.

Calibration (core.calibrate) builds one from a model's test clips and the project's Background Noise.
The same seed gives the same stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import EarshotError

GAP_SECONDS = (3.0, 7.0)  # between placed sounds (1 s clips); `gap_after` widens it for longer spans


class StreamError(EarshotError):
    """A test stream cannot be built (no sounds, no noise)."""


@dataclass(frozen=True)
class PlacedSound:
    """A sound placed in the stream: its label and where its audible part lies (seconds)."""

    label: str
    start: float
    end: float


@dataclass
class SoundStream:
    """A long stream `float32 [n]` with the sounds placed in it, in time order."""

    audio: np.ndarray
    sample_rate: int
    sounds: list[PlacedSound]

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sample_rate


def audible_bounds(clip: np.ndarray, sample_rate: int, *, below_peak_db: float = 30.0) -> tuple[int, int]:
    """First and last sample (end exclusive) of the 10 ms frames within `below_peak_db` of the loudest."""
    frame = max(1, sample_rate // 100)
    n = clip.size // frame
    if n == 0:
        return 0, clip.size
    rms = np.sqrt(np.mean(clip[:n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)) + 1e-10
    level = 20 * np.log10(rms)
    loud = np.flatnonzero(level >= level.max() - below_peak_db)
    return int(loud[0] * frame), int(min(clip.size, (loud[-1] + 1) * frame))


def gap_after(heard_seconds: float) -> tuple[float, float]:
    """Gaps between placed sounds that outlast `heard_seconds` (how long after its end a sound is still
    counted as heard) by at least 1 s, as wide a range as `GAP_SECONDS`."""
    low = max(GAP_SECONDS[0], heard_seconds + 1.0)
    return low, low + GAP_SECONDS[1] - GAP_SECONDS[0]


def noise_bed(noise: Sequence[np.ndarray], samples: int, rng: np.random.Generator, *,
              sample_rate: int) -> np.ndarray:
    """`float32 [samples]` of noise: random stretches (2-10 s) of the given recordings, end to end."""
    usable = [np.asarray(n, dtype=np.float32) for n in noise if np.asarray(n).size > 0]
    if not usable:
        raise StreamError("no Background Noise to build the test stream on",
                               "record 20 seconds of Background Noise, or give --noise FILE")
    bed = np.empty(samples, dtype=np.float32)
    filled = 0
    while filled < samples:
        source = usable[int(rng.integers(len(usable)))]
        length = min(samples - filled, source.size, int(rng.integers(2, 11)) * sample_rate)
        start = int(rng.integers(0, source.size - length + 1))
        bed[filled:filled + length] = source[start:start + length]
        filled += length
    return bed


def build_stream(clips: Sequence[tuple[str, np.ndarray]], noise: Sequence[np.ndarray], *, sample_rate: int,
                 seconds: float, seed: int, gap_seconds: tuple[float, float] = GAP_SECONDS) -> SoundStream:
    """Place the audible part of each `(label, clip)` (in shuffled rounds) over a noise bed.

    Each sound keeps 50 ms of its clip on either side, with 10 ms fades; sounds are `gap_seconds`
    apart. The same seed gives the same stream.
    """
    if not clips:
        raise StreamError("no test clips of any class but Background Noise",
                               "train the model again so it has a test split")
    rng = np.random.default_rng(seed)
    total = int(round(seconds * sample_rate))
    audio = noise_bed(noise, total, rng, sample_rate=sample_rate)
    margin, fade = sample_rate // 20, sample_rate // 100
    order: list[int] = []
    sounds: list[PlacedSound] = []
    position = int(rng.uniform(*gap_seconds) * sample_rate)
    while True:
        if not order:
            order = rng.permutation(len(clips)).tolist()
        label, clip = clips[order.pop()]
        first, last = audible_bounds(clip, sample_rate)
        lo, hi = max(0, first - margin), min(clip.size, last + margin)
        piece = np.asarray(clip[lo:hi], dtype=np.float32).copy()
        ramp = np.linspace(0.0, 1.0, min(fade, piece.size // 2), dtype=np.float32)
        if ramp.size:
            piece[:ramp.size] *= ramp
            piece[-ramp.size:] *= ramp[::-1]
        if position + piece.size + int(gap_seconds[0] * sample_rate) > total:
            break
        audio[position:position + piece.size] += piece
        sounds.append(PlacedSound(label, (position + first - lo) / sample_rate,
                                  (position + last - lo) / sample_rate))
        position += piece.size + int(rng.uniform(*gap_seconds) * sample_rate)
    return SoundStream(audio, sample_rate, sounds)


