"""Frozen settings and every size derived from them, in one place.

Capture, segmentation, features, training, inference and export all read these, so a clip length
or a mel-band count is never computed twice in two ways.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core.runtime.logmel import FeatureSpec  # noqa: F401  (the front end's settings live with it)

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
class TrainSpec:
    """Training settings as the user sees them under Advanced Settings."""

    epochs: int = 50
    batch_size: int = 16
    learning_rate: float = 0.001
    test_fraction: float = 0.15
    seed: int = 0
    min_samples: int = MIN_SAMPLES_PER_CLASS
    model: str = "auto"  # auto, speech, music, speech+music or small (core.ears)
    recommended_max_epochs: int = field(default=100, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("recommended_max_epochs")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        names = set(cls.__dataclass_fields__) - {"recommended_max_epochs"}
        return cls(**{k: v for k, v in data.items() if k in names})
