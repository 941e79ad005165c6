"""A small project trained once per session on real speech (Speech Commands), split by speaker."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from core.audio import load
from core.features import fit_clip
from core.project import Project
from core.spec import BACKGROUND_NOISE, TrainSpec
from tests.fixtures.datasets import DatasetFile, manifest

WORDS = ("yes", "no", "stop")
EPOCHS = 25


def held_out(item: DatasetFile) -> bool:
    """About a quarter of the speakers never enter the project: predictions are checked on them."""
    return zlib.crc32(item.group.encode()) % 4 == 0


def speech_files(*, training: bool) -> dict[str, list[DatasetFile]]:
    """Speech Commands files per project class (silence becomes Background Noise)."""
    wanted = {"_silence_": BACKGROUND_NOISE, **{w: w for w in WORDS}}
    out: dict[str, list[DatasetFile]] = {name: [] for name in wanted.values()}
    for item in manifest():
        if item.dataset == "speech_commands" and item.label in wanted and held_out(item) != training:
            out[wanted[item.label]].append(item)
    return out


def build_project(root: Path) -> Project:
    project = Project.create(root, name="words")
    for name, items in speech_files(training=True).items():
        info = project.get_class(name) if name == BACKGROUND_NOISE else project.add_class(name)
        clips = [fit_clip(load(item.path, project.audio.sample_rate), project.audio.clip_samples)
                 for item in items]
        project.add_clips(info, clips, prefix=name)
    project.set_train_spec(TrainSpec(epochs=EPOCHS, test_fraction=0.3, seed=1, model="small"))
    return project


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained project folder: Background Noise, yes, no, stop; ~90 clips each."""
    from core.train import train

    project = build_project(tmp_path_factory.mktemp("deploy") / "words")
    train(project)
    assert (project.models_dir / "latest" / "model.keras").is_file()
    return project.root


@pytest.fixture(scope="session")
def speech_model_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same words trained with the pretrained speech ear, exported (with the small CNN beside it)."""
    from core.export import export_project
    from core.spec import TrainSpec
    from core.train import train

    project = build_project(tmp_path_factory.mktemp("deploy-speech") / "words")
    project.set_train_spec(TrainSpec(epochs=EPOCHS, test_fraction=0.3, seed=1, model="speech"))
    result = train(project)
    assert result.kind == "speech"
    return export_project(project.root, tmp_path_factory.mktemp("speech-zip") / "words-speech.zip").path


@pytest.fixture(scope="session")
def held_out_files() -> dict[str, list[DatasetFile]]:
    return speech_files(training=False)


def rng_pick(items: list[DatasetFile], n: int, seed: int = 0) -> list[DatasetFile]:
    picks = np.random.default_rng(seed).choice(len(items), size=min(n, len(items)), replace=False)
    return [items[i] for i in sorted(picks)]
