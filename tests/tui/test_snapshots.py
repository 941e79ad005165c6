"""One SVG snapshot per screen at 80x24, on a deterministic project (names and data fixed; it lives in
a temporary folder of its own, which is the current folder, so the path shown is just "genres").

Every tab's snapshot shows its key bar: the tab's essential keys must all be visible at 80x24.
Regenerate after an intended change with: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.project import Project
from tui.app import EarshotApp
from tui.messages import FileClassified
from tui.services import Services

LABELS = ["Background Noise", "rock", "classical"]
HISTORY = [(0.45, 0.40, 1.05, 1.08), (0.62, 0.55, 0.85, 0.92), (0.74, 0.63, 0.66, 0.81),
           (0.82, 0.66, 0.52, 0.76), (0.88, 0.68, 0.41, 0.74), (0.92, 0.69, 0.33, 0.75),
           (0.95, 0.70, 0.26, 0.77), (0.97, 0.70, 0.21, 0.80)]
CONFUSION = [[9, 1, 0], [0, 6, 4], [1, 3, 6]]


class FixedMicrophones:
    def microphones(self) -> list[tuple[str, str]]:
        return [("0", "USB microphone (default)"), ("1", "Line in")]

    def open_microphone(self, key: str | None, sample_rate: int) -> Any:
        raise AssertionError("snapshots never record")


def fixed_ports() -> list[Any]:
    return [SimpleNamespace(device="/dev/ttyACM0", description="MicroPython board")]


def build_project(folder: Path) -> Path:
    """Three classes of seeded noise (24, 24 and 12 clips) and the metadata of a trained model."""
    root = folder / "genres"
    project = Project.create(root, name="genres")
    rng = np.random.default_rng(7)
    for name, count in zip(LABELS, (24, 24, 12), strict=True):
        info = project.get_class(name) if project.has_class(name) else project.add_class(name)
        clips = [(rng.standard_normal(16000) * 0.1).astype(np.float32) for _ in range(count)]
        for path in project.add_clips(info, clips, prefix=name):
            os.utime(path, (1_700_000_000, 1_700_000_000))  # one time: newest-first order is by name
    model = root / "models" / "latest"
    model.mkdir(parents=True)
    history = [{"epoch": i + 1, "epochs": len(HISTORY), "train_accuracy": a, "test_accuracy": ta,
                "train_loss": loss, "test_loss": tl, "seconds": 0.5}
               for i, (a, ta, loss, tl) in enumerate(HISTORY)]
    (model / "metadata.json").write_text(json.dumps({
        "labels": LABELS, "train": {"epochs": len(HISTORY)}, "history": history, "confusion": CONFUSION,
        "metrics": {"test_accuracy": 0.7, "train_accuracy": 0.97}}))
    return root


@pytest.fixture(autouse=True)
def in_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each snapshot runs in a temporary folder of its own, which is also the current folder."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def make_app(project: Path | None = None) -> EarshotApp:
    return EarshotApp(project, services=Services(FixedMicrophones(), fixed_ports, prewarm=False))


@pytest.fixture
def project(in_own_folder: Path) -> Path:
    return build_project(in_own_folder)


def test_project_tab(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24))


def test_data_tab(snap_compare: Any, project: Path) -> None:
    async def select(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("down", "down")
        await pilot.app.workers.wait_for_complete()  # the level strips
        await pilot.pause()

    assert snap_compare(make_app(project), terminal_size=(80, 24), run_before=select)


def test_record_dialog(snap_compare: Any, project: Path) -> None:
    async def open_dialog(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(project), terminal_size=(80, 24), run_before=open_dialog)


def test_train_tab(snap_compare: Any, project: Path) -> None:
    assert snap_compare(make_app(project), terminal_size=(80, 24), press=["3", "ctrl+end"])


def test_train_tab_learn_more(snap_compare: Any, project: Path) -> None:
    async def learn_more(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("l")  # Learn More: the reading and the confusion matrix, without PageDown
        await pilot.pause()

    assert snap_compare(make_app(project), terminal_size=(80, 24), run_before=learn_more)


def test_validate_tab(snap_compare: Any, project: Path) -> None:
    async def classify(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("4")
        await pilot.app.workers.wait_for_complete()
        prediction = SimpleNamespace(label="rock", confidence=0.82, windows=[],
                                     scores={"Background Noise": 0.03, "rock": 0.82, "classical": 0.15})
        pane = pilot.app.query_one("ValidatePane")
        pane.post_message(FileClassified(Path("/data/rock-song.wav"), prediction))
        await pilot.pause()

    assert snap_compare(make_app(project), terminal_size=(80, 24), run_before=classify)


def test_deploy_tab(snap_compare: Any, project: Path) -> None:
    async def show(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("5")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(project), terminal_size=(80, 24), run_before=show)


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), press=["question_mark"])
