"""Frozen settings and every size derived from them, in one place.

Capture, segmentation, features, training, inference and export all read these, so a clip length
or a mel-band count is never computed twice in two ways.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

BACKGROUND_NOISE = "Background Noise"
MIN_SAMPLES_PER_CLASS = 20
IMBALANCE_RATIO = 2.0
RECORD_SECONDS = 20.0


@dataclass(frozen=True)
class AudioSpec:
    """Sample rate and clip length of a project: every stored sample is one clip."""

    sample_rate: int = 16000
    clip_seconds: float = 1.0

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioSpec:
        return cls(sample_rate=int(data["sample_rate"]), clip_seconds=float(data["clip_seconds"]))


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def for_audio(cls, audio: AudioSpec) -> FeatureSpec:
        fmax = min(cls.fmax, audio.sample_rate / 2 - 1)
        return cls(sample_rate=audio.sample_rate, clip_seconds=audio.clip_seconds, fmax=fmax)


@dataclass(frozen=True)
class TrainSpec:
    """Training settings as the user sees them under Advanced Settings."""

    epochs: int = 50
    batch_size: int = 16
    learning_rate: float = 0.001
    test_fraction: float = 0.15
    seed: int = 0
    min_samples: int = MIN_SAMPLES_PER_CLASS
    recommended_max_epochs: int = field(default=100, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("recommended_max_epochs")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        names = set(cls.__dataclass_fields__) - {"recommended_max_epochs"}
        return cls(**{k: v for k, v in data.items() if k in names})
