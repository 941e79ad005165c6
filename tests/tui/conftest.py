"""Fixtures for the app's tests: isolated config/cache folders and small splits of the real datasets."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fixtures.datasets import DatasetFile

SR = 16000


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The recent-projects list and native-output log go to tmp_path, never to the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    yield tmp_path


@dataclass
class WordSplit:
    """Speech Commands clips split by speaker: folders to upload, and one held-out file per word."""

    folders: dict[str, Path]  # class name -> folder of training clips (symlinks to the datasets)
    held_out: dict[str, Path]  # class name -> a clip from a speaker not used for training


def by_speaker(files: list[DatasetFile], label: str, count: int) -> tuple[list[Path], Path]:
    """`count` clips of `label` from distinct speakers, and one clip of a speaker not among them."""
    seen: dict[str, Path] = {}
    for item in sorted(files, key=lambda f: f.path.name):
        if item.dataset == "speech_commands" and item.label == label and item.group not in seen:
            seen[item.group] = item.path
    speakers = sorted(seen)
    assert len(speakers) > count, f"not enough speakers for {label}"
    return [seen[s] for s in speakers[:count]], seen[speakers[count]]


def copy_folder(paths: list[Path], folder: Path) -> Path:
    """A temporary folder holding copies of dataset files (uploads do not follow symlinks)."""
    folder.mkdir(parents=True)
    for path in paths:
        shutil.copyfile(path, folder / path.name)
    return folder


def zip_folder(folder: Path) -> Path:
    """`folder` as `folder.zip`, the files at the top level of the archive."""
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return target


@pytest.fixture
def word_split(dataset_files: list[DatasetFile], tmp_path: Path) -> WordSplit:
    folders: dict[str, Path] = {}
    held: dict[str, Path] = {}
    for label, name in (("_silence_", "Background Noise"), ("yes", "yes"), ("no", "no")):
        train, other = by_speaker(dataset_files, label, 24)
        folders[name] = copy_folder(train, tmp_path / "upload" / name)
        held[name] = other
    return WordSplit(folders, held)


@pytest.fixture
def words_project(word_split: WordSplit, tmp_path: Path) -> Path:
    """A ready project (Background Noise, yes, no; 24 clips each) built with the core API."""
    from core.ingest import import_samples
    from core.project import Project

    root = tmp_path / "words"
    project = Project.create(root, name="words")
    for name, folder in word_split.folders.items():
        if not project.has_class(name):
            project.add_class(name)
        import_samples(project, [folder], class_name=name)
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project trained on 24 speakers per word, and a track of 4 unseen speakers saying yes/no."""
    from core.audio import load
    from core.ingest import import_samples
    from core.project import Project
    from core.spec import TrainSpec
    from core.train import train
    from tests.fixtures.datasets import manifest

    files: list[DatasetFile] = manifest()
    folder = tmp_path_factory.mktemp("deploy")
    root = folder / "words"
    project = Project.create(root, name="words")
    held: list[Path] = []
    for label, name in (("_silence_", "Background Noise"), ("yes", "yes"), ("no", "no")):
        paths, _ = by_speaker(files, label, 28)
        if not project.has_class(name):
            project.add_class(name)
        import_samples(project, [copy_folder(paths[:24], folder / "upload" / name)], class_name=name)
        if label != "_silence_":
            held += paths[24:28]
    train(project, TrainSpec(epochs=12, batch_size=16, learning_rate=0.003, seed=1, model="small"))
    gap = np.zeros(SR // 2, dtype=np.float32)
    track = np.concatenate([np.concatenate([load(p, SR), gap]) for p in held])
    return {"root": root, "track": track}


class TrackBackend:
    """A "microphone" that replays a track (four times faster than real time by default)."""

    def __init__(self, track: np.ndarray, speed: float = 4) -> None:
        self.track, self.speed = track, speed

    def microphones(self) -> list[tuple[str, str]]:
        return [("track", "unseen speakers")]

    def open_microphone(self, key: str | None, sample_rate: int) -> Any:
        from core.capture import WavFileSource

        return WavFileSource.from_array(self.track, sample_rate, speed=self.speed)
