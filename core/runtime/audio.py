"""Audio for the runtime: resampling, mono, clip fitting, reading files, cutting long audio into clips.

numpy only (soundfile is imported by `load_audio` alone), Python 3.7 syntax: this file is copied
verbatim into exported bundles.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from math import gcd
from typing import Any, List, Sequence

import numpy as np

# Windowed-sinc resampler settings: 32 zero crossings each side, passband to 94% of the lower Nyquist,
# Kaiser window with beta 10 (stopband below -90 dB); close to soxr's "HQ" on speech and music.
ZERO_CROSSINGS = 32
ROLLOFF = 0.94
KAISER_BETA = 10.0
CHUNK = 65536  # output samples per gather, bounds the [chunk, taps] temporary


@lru_cache(maxsize=16)
def _filters(up: int, down: int) -> tuple:
    """Polyphase filter table `float64 [up, taps]` and half-width for a rational ratio up/down."""
    scale = min(1.0, up / down)
    half = int(np.ceil(ZERO_CROSSINGS / scale))
    offsets = np.arange(-half + 1, half + 1, dtype=np.float64)  # input taps around floor(position)
    phases = np.arange(up, dtype=np.float64)[:, None] / up
    distance = offsets[None, :] - phases  # in input samples
    cutoff = scale * ROLLOFF
    taper = np.clip(1.0 - (distance / half) ** 2, 0.0, 1.0)
    table = cutoff * np.sinc(cutoff * distance) * np.i0(KAISER_BETA * np.sqrt(taper)) / np.i0(KAISER_BETA)
    table /= table.sum(axis=1, keepdims=True)  # unit DC gain in every phase
    table.flags.writeable = False
    return table, half


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample mono `y: float32 [n]` from `orig_sr` to `target_sr` Hz: `float32 [round(n * target / orig)]`.

    Band-limited (windowed sinc, polyphase), the same in earshot, its exports and on a board.
    """
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    orig_sr, target_sr = int(orig_sr), int(target_sr)
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError("sample rates must be positive (got {} and {})".format(orig_sr, target_sr))
    if orig_sr == target_sr or y.size == 0:
        return y.copy()
    g = gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    table, half = _filters(up, down)
    n_out = int(round(y.size * up / down))
    padded = np.concatenate([np.zeros(half), y.astype(np.float64), np.zeros(half + 1)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half)
    out = np.empty(n_out, dtype=np.float32)
    for first in range(0, n_out, CHUNK):
        n = np.arange(first, min(first + CHUNK, n_out), dtype=np.int64) * down
        base, phase = n // up, n % up
        out[first:first + len(n)] = np.einsum("ij,ij->i", windows[base + 1], table[phase])
    return out


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels: `[n] | [n, channels]` to `float32 [n]`."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def fit_clip(y: np.ndarray, clip_samples: int) -> np.ndarray:
    """Centre-pad or centre-crop mono audio `float32 [n]` to exactly `clip_samples`."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if y.size >= clip_samples:
        start = (y.size - clip_samples) // 2
        return y[start:start + clip_samples].copy()
    out = np.zeros(clip_samples, dtype=np.float32)
    start = (clip_samples - y.size) // 2
    out[start:start + y.size] = y
    return out


def load_audio(path: Any, sample_rate: int) -> np.ndarray:
    """A sound file (WAV, FLAC, OGG) as mono `float32 [n]` at `sample_rate` (needs soundfile)."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    return resample(to_mono(np.asarray(data)), int(rate), sample_rate)


def clip_starts(n_samples: int, clip_samples: int) -> List[int]:
    """Where the clips of a long recording start: back to back, plus a last one flush with the end when
    at least half a clip is left over. Audio up to 1.5 clips long is one clip (`[0]`, fit with fit_clip)."""
    if n_samples <= clip_samples * 1.5:
        return [0]
    starts = list(range(0, n_samples - clip_samples + 1, clip_samples))
    if n_samples - (starts[-1] + clip_samples) >= clip_samples // 2:
        starts.append(n_samples - clip_samples)
    return starts


def cut_clips(y: np.ndarray, clip_samples: int) -> tuple:
    """(starts, clips `float32 [n_clips, clip_samples]`) of mono audio, as `clip_starts` places them."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    starts = clip_starts(y.size, clip_samples)
    if len(starts) == 1:
        return starts, fit_clip(y, clip_samples)[None, :]
    return starts, np.stack([y[s:s + clip_samples] for s in starts])


def vote(window_labels: Sequence[str], scores: np.ndarray, labels: Sequence[str]) -> str:
    """Majority label of the windows; ties go to the higher mean score."""
    counts = Counter(window_labels)
    top = max(counts.values())
    tied = [label for label, n in counts.items() if n == top]
    mean = np.asarray(scores).mean(axis=0)
    return max(tied, key=lambda label: float(mean[list(labels).index(label)]))
