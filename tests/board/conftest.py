"""Fixtures for deploying to a Linux board: the real sshd "board", small tmpfs folders on it, a bundle."""

from __future__ import annotations

import json
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.deploy.conftest import speech_model_zip, trained_project  # noqa: F401 (session models)
from tests.fixtures.sshd import SshBoard, sshd_board  # noqa: F401 (the fixture, for this folder)


def synthetic_bundle(path: Path, *, seed: int = 0,
                     labels: tuple[str, ...] = ("Background Noise", "yes")) -> Path:
    """A zip shaped like an export (the SSH side only moves files; models are random bytes)."""
    rng = np.random.default_rng(seed)
    files = {
        "predict.py": b"#!/usr/bin/env python3\nprint('earshot test bundle')\n",
        "labels.txt": ("\n".join(labels) + "\n").encode(),
        "metadata.json": json.dumps({"labels": list(labels), "seed": seed}).encode(),
        "model.tflite": rng.integers(0, 256, 60_000, dtype=np.uint8).tobytes(),
        "model_int8.tflite": rng.integers(0, 256, 30_000, dtype=np.uint8).tobytes(),
        "model.keras": rng.integers(0, 256, 90_000, dtype=np.uint8).tobytes(),
        "model_int8.h": b"// header\n",
        "model_int8.cc": b"// source\n",
        "README.md": b"# test\n",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return synthetic_bundle(tmp_path / "words-model.zip")


@pytest.fixture
def board_folder(sshd_board: SshBoard) -> Path:  # noqa: F811
    """An empty folder of the board user, for one test."""
    return sshd_board.folder_on_board()


@pytest.fixture
def tmpfs_on_board(sshd_board: SshBoard) -> Iterator[Callable[..., Path]]:  # noqa: F811
    """Mount small tmpfs file systems in the board user's home (as root); unmounted afterwards."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = sshd_board.folder_on_board("mnt-")
        user = sshd_board.user
        owner = f"uid={user.pw_uid},gid={user.pw_gid},mode=0755"
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"{options},{owner}", "earshot-test", str(point)],
                       check=True, capture_output=True)
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], capture_output=True)


def remount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True, capture_output=True)


@pytest.fixture(scope="session")
def words_zip(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The trained Speech Commands model (Background Noise, yes, no, stop) exported as a zip."""
    from earshot.cli import main as earshot_main

    out = tmp_path_factory.mktemp("board-export") / "words-model.zip"
    assert earshot_main(["export", str(trained_project), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def track(words_zip: Path):  # type: ignore[no-untyped-def]
    from tests.board.words import word_track

    return word_track(words_zip)
