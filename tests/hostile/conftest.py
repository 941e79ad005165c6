"""Fixtures of the hostile-input and fault suite: small projects, upload folders, real mounts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from core.project import Project

SR = 16000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hostile/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.hostile)


def clip_tree(root: Path, counts: dict[str, int], seed: int = 7) -> Path:
    """root/<class>/<n>.wav: distinct one-second clips (stored unchanged by an import)."""
    rng = np.random.default_rng(seed)
    for label, n in counts.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            y = (rng.standard_normal(SR) * 0.05).astype(np.float32)
            soundfile.write(root / label / f"{label}-{i:03d}.wav", y, SR, subtype="PCM_16")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    Project.create(root, name="words").add_class("yes")
    return root


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    """Three classes (one of them new to the project) of 12 clips each."""
    return clip_tree(tmp_path / "upload", {"yes": 12, "no": 12, "stop": 12})


def _mount(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["mount", *args], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB tmpfs (filled by the tests). Skipped only where mounting is not permitted."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = _mount(["-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(source, view): a read-only bind mount `view` of the folder `source`."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    done = _mount(["--bind", str(source), str(view)])
    if done.returncode != 0:
        pytest.skip(f"bind mounts are not permitted here: {done.stderr.decode().strip()}")
    try:
        done = _mount(["-o", "remount,bind,ro", str(view)])
        if done.returncode != 0:
            pytest.skip(f"read-only remounts are not permitted here: {done.stderr.decode().strip()}")
        yield source, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def fill(folder: Path) -> None:
    """Fill the file system holding `folder` to 100% (big writes, then single bytes)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


TINY_MODEL = """
import json, sys
from pathlib import Path
from core.model import build_model, configure_tensorflow, tflite_bytes
from core.spec import AudioSpec, FeatureSpec
configure_tensorflow()
audio = AudioSpec()
features = FeatureSpec.for_audio(audio)
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
model = build_model(features.input_shape, 2, mean=-40.0, std=20.0)
(out / "model.tflite").write_bytes(tflite_bytes(model))
(out / "labels.txt").write_text("Background Noise\\nyes\\n")
(out / "metadata.json").write_text(json.dumps({
    "labels": ["Background Noise", "yes"], "audio": audio.to_dict(), "features": features.to_dict(),
    "input_shape": list(features.input_shape), "project": "words"}))
"""


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (untrained) TFLite model folder of the default project shape: model.tflite, labels.txt,
    metadata.json. Built once per session in a subprocess (TensorFlow stays out of this process)."""
    folder = tmp_path_factory.mktemp("model") / "model"
    from tests.hostile.helpers import REPO

    done = subprocess.run([sys.executable, "-c", TINY_MODEL, str(folder)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    rng = np.random.default_rng(3)
    soundfile.write(path, (rng.standard_normal(SR) * 0.1).astype(np.float32), SR, subtype="PCM_16")
    return path
