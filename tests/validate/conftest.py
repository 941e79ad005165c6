"""A tone project trained once for the validation tests; tests that change it work on a copy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.project import Project
from core.spec import TrainSpec
from tests.train.conftest import tone_project

SR = 16000


@pytest.fixture(scope="session")
def trained_tones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Background Noise, "low" (300 Hz) and "high" (2 kHz) tones, trained 30 epochs (read-only)."""
    from core.train import train

    project = tone_project(tmp_path_factory.mktemp("validate") / "tones")
    train(project, TrainSpec(epochs=30, seed=1))
    return project.root


@pytest.fixture
def tones(trained_tones: Path, tmp_path: Path) -> Callable[[], Project]:
    """A fresh copy of the trained tone project."""
    def copy() -> Project:
        target = tmp_path / f"tones-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(trained_tones, target, ignore=shutil.ignore_patterns(".earshot.lock"))
        return Project.open(target)

    return copy


def tone_take(pattern: list[tuple[float, float]], seconds: float, seed: int = 5) -> np.ndarray:
    """Faint hiss with 1/3 s tones `(start, frequency)` at known times (like the training clips)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 0.01, int(seconds * SR))
    t = np.arange(SR // 3) / SR
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    for start, freq in pattern:
        i = int(start * SR)
        y[i:i + t.size] += 0.4 * np.sin(2 * np.pi * freq * t) * fade
    return y.astype(np.float32)
