"""The log-mel front end of the small CNN: one pure-numpy implementation for training, live inference,
exports and boards (Python 3.7 syntax, numpy only; copied verbatim into bundles).

It matches `librosa.feature.melspectrogram(center=False, norm="slaney", htk=False)` on the same
parameters (a golden test pins this) without importing librosa or waiting for numba to compile.

Training works on mel *power* (`mel_power_batch`), because noise mixing and gain are additive there;
the model sees `log_mel` (decibels, floored at `top_db` below the clip's peak).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Dict

import numpy as np

NAME = "logmel"
VERSION = 1


@dataclass(frozen=True)
class FeatureSpec:
    """The log-mel front end shared by training, live inference and the exported predictor."""

    sample_rate: int = 16000
    clip_seconds: float = 1.0
    window_seconds: float = 0.030
    hop_seconds: float = 0.010
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 7600.0
    log_floor: float = 1e-6
    top_db: float = 80.0

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.window_seconds))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_seconds))

    @property
    def n_fft(self) -> int:
        n = 1
        while n < self.win_length:
            n *= 2
        return n

    @property
    def n_frames(self) -> int:
        """Frames of `n_fft` samples (the window is centred inside), no padding at the ends."""
        return 1 + (self.clip_samples - self.n_fft) // self.hop_length

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.n_frames, self.n_mels, 1)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> FeatureSpec:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def for_audio(cls, audio: Any) -> FeatureSpec:
        """The default front end for a project's `AudioSpec` (fmax below its Nyquist)."""
        fmax = min(cls.fmax, audio.sample_rate / 2 - 1)
        return cls(sample_rate=audio.sample_rate, clip_seconds=audio.clip_seconds, fmax=fmax)


def _hz_to_mel(freq: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    freq = np.asarray(freq, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freq / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    above = freq >= min_log_hz
    mels[above] = min_log_mel + np.log(freq[above] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    above = mels >= min_log_mel
    freqs[above] = min_log_hz * np.exp(logstep * (mels[above] - min_log_mel))
    return freqs


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-normalised triangular filters: `float32 [n_mels, n_fft // 2 + 1]`."""
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0],
                                        n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    weights.flags.writeable = False
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def analysis_window(win_length: int, n_fft: int) -> np.ndarray:
    """A periodic Hann window of `win_length`, zero-padded to `n_fft` and centred (as librosa)."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    padded = np.zeros(n_fft, dtype=np.float64)
    start = (n_fft - win_length) // 2
    padded[start:start + win_length] = window
    padded.flags.writeable = False
    return padded


def _check_clips(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    clips = np.asarray(y, dtype=np.float32)
    if clips.ndim != 2 or clips.shape[1] != spec.clip_samples:
        raise ValueError(f"expected audio clips of shape [n, {spec.clip_samples}] "
                         f"({spec.clip_seconds} s at {spec.sample_rate} Hz), got {list(clips.shape)}")
    return clips


def mel_power_batch(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Mel power spectrogram of clips: `y: float32 [n, clip_samples]` -> `float32 [n, n_frames, n_mels]`."""
    clips = _check_clips(y, spec)
    n_fft, hop, n_frames = spec.n_fft, spec.hop_length, spec.n_frames
    window = analysis_window(spec.win_length, n_fft).astype(np.float32)
    filters = np.ascontiguousarray(
        mel_filterbank(spec.sample_rate, n_fft, spec.n_mels, float(spec.fmin), float(spec.fmax)).T)
    out = np.empty((clips.shape[0], n_frames, spec.n_mels), dtype=np.float32)
    chunk = 64  # bounds the temporary [chunk, frames, n_fft] arrays
    for first in range(0, clips.shape[0], chunk):
        block = clips[first:first + chunk]
        frames = np.lib.stride_tricks.sliding_window_view(block, n_fft, axis=1)[:, ::hop][:, :n_frames]
        spectrum = np.fft.rfft(frames * window, n=n_fft, axis=-1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
        out[first:first + len(block)] = np.dot(power.reshape(-1, power.shape[-1]), filters).reshape(
            len(block), n_frames, spec.n_mels)
    return out


def power_to_db(mel_power: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Decibels of mel power `[..., n_frames, n_mels]`, floored `top_db` below each clip's peak."""
    db = 10.0 * np.log10(np.maximum(mel_power, spec.log_floor))
    peak = db.max(axis=(-2, -1), keepdims=True)
    return np.maximum(db, peak - spec.top_db).astype(np.float32)


def log_mel_batch(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Log-mel features of clips: `y: float32 [n, clip_samples]` -> `float32 [n, n_frames, n_mels]`."""
    return power_to_db(mel_power_batch(y, spec), spec)


def log_mel(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Log-mel features of one clip: `y: float32 [clip_samples]` -> `float32 [n_frames, n_mels]`."""
    clip = np.asarray(y, dtype=np.float32)
    if clip.ndim != 1:
        raise ValueError(f"expected one mono clip of shape [{spec.clip_samples}], got {list(clip.shape)}")
    return log_mel_batch(clip[None, :], spec)[0]
