"""Projects for the training tests: synthetic tones (known answer) and real speech, split by speaker."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.audio import load
from core.features import fit_clip
from core.project import Project
from core.spec import BACKGROUND_NOISE, TrainSpec
from tests.fixtures.datasets import DatasetFile

SR = 16000
WORDS = ("yes", "no", "up")


def tone_clips(rng: np.random.Generator, freq: float | None, count: int) -> list[np.ndarray]:
    """Clips of a tone (random phase, level and onset) over faint noise; `freq=None` is noise only."""
    t = np.arange(SR) / SR
    clips = []
    for _ in range(count):
        y = rng.normal(0, 0.01, SR)
        if freq is not None:
            start = rng.integers(0, SR // 2)
            y[start:start + SR // 3] += rng.uniform(0.2, 0.6) * np.sin(
                2 * np.pi * freq * t[: SR // 3] + rng.uniform(0, 6.28))[: SR - start]
        clips.append(y.astype(np.float32))
    return clips


def tone_project(root: Path, count: int = 24, seed: int = 7) -> Project:
    """A project with Background Noise, "low" (300 Hz) and "high" (2 kHz) classes."""
    rng = np.random.default_rng(seed)
    project = Project.create(root)
    project.add_clips(project.get_class(BACKGROUND_NOISE), tone_clips(rng, None, count), prefix="noise")
    project.add_clips(project.add_class("low"), tone_clips(rng, 300.0, count), prefix="low")
    project.add_clips(project.add_class("high"), tone_clips(rng, 2000.0, count), prefix="high")
    return project


@pytest.fixture
def make_tone_project(tmp_path: Path) -> Callable[..., Project]:
    def make(name: str = "tones", count: int = 24, seed: int = 7) -> Project:
        return tone_project(tmp_path / name, count, seed)

    return make


TONE_SPEC = TrainSpec(epochs=8, seed=1, model="small")


@pytest.fixture(scope="session")
def trained_tone_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A tone project trained once (8 epochs), shared by tests that only read its model."""
    from core.train import train

    project = tone_project(tmp_path_factory.mktemp("tones") / "tones")
    train(project, TONE_SPEC)
    return project


def is_test_speaker(group: str) -> bool:
    return hashlib.sha1(group.encode()).digest()[0] < 64  # about a quarter of the speakers


@pytest.fixture(scope="session")
def speech_split(dataset_files: list[DatasetFile]) -> dict[str, list[DatasetFile]]:
    """Three words and `_silence_` from speech_commands, split by speaker (held-out speakers in "test")."""
    chosen = [f for f in dataset_files if f.dataset == "speech_commands" and f.label in (*WORDS, "_silence_")]
    return {"train": [f for f in chosen if not is_test_speaker(f.group)],
            "test": [f for f in chosen if is_test_speaker(f.group)]}


def label_of(item: DatasetFile) -> str:
    return BACKGROUND_NOISE if item.label == "_silence_" else item.label


@pytest.fixture(scope="session")
def trained_speech_project(tmp_path_factory: pytest.TempPathFactory,
                           speech_split: dict[str, list[DatasetFile]]) -> Project:
    """A project trained (few epochs) on the training speakers: shared by the slow tests."""
    from core.train import train

    project = Project.create(tmp_path_factory.mktemp("speech") / "speech")
    for label in (BACKGROUND_NOISE, *WORDS):
        info = project.get_class(label) if label == BACKGROUND_NOISE else project.add_class(label)
        files = [f for f in speech_split["train"] if label_of(f) == label][:60]
        project.add_clips(info, [fit_clip(load(f.path, SR), SR) for f in files], prefix=label)
    train(project, TrainSpec(epochs=12, seed=1, model="small"))
    return project
