"""The app's pure parts: curve reading, peak hold, settings parsing, count bars, command dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CaptureError, TrainingError
from core.project import Project
from core.spec import TrainSpec
from earshot.commands.app import choose_project
from tui.reading import read_confusion, read_curves
from tui.screens.train import parse_settings
from tui.screens.validate import parse_stream_settings
from tui.widgets.class_table import count_bar
from tui.widgets.level_meter import FLOOR_DB, PEAK_HOLD_SECONDS, LevelMeter, fraction


def history(train: list[float], test: list[float], train_loss: list[float] | None = None,
            test_loss: list[float] | None = None) -> list[dict[str, float]]:
    n = len(train)
    train_loss = train_loss or [1.0 - a for a in train]
    test_loss = test_loss or [1.0 - a for a in test]
    return [{"epoch": i + 1, "epochs": n, "train_accuracy": train[i], "test_accuracy": test[i],
             "train_loss": train_loss[i], "test_loss": test_loss[i], "seconds": 1.0} for i in range(n)]


def test_reading_overfitting() -> None:
    lines = read_curves(history([0.5, 0.8, 0.95, 0.99, 1.0], [0.5, 0.55, 0.6, 0.6, 0.6]))
    assert lines[0].startswith("test accuracy (60%) stays far below train accuracy (100%)")
    assert "overfitting, add more varied samples" in lines[0]


def test_reading_underfitting_and_still_rising() -> None:
    lines = read_curves(history([0.2, 0.3, 0.35, 0.4, 0.5], [0.2, 0.3, 0.35, 0.4, 0.5]))
    assert "underfitting" in lines[0]
    assert any("still rising" in line for line in lines)


def test_reading_good_fit_and_rising_test_loss() -> None:
    train = [0.7, 0.85, 0.9, 0.93, 0.95, 0.96]
    test = [0.7, 0.86, 0.9, 0.9, 0.9, 0.9]
    test_loss = [0.8, 0.4, 0.3, 0.45, 0.5, 0.6]
    lines = read_curves(history(train, test, [0.8, 0.5, 0.3, 0.2, 0.15, 0.1], test_loss))
    assert "generalises well" in lines[0]
    assert any("lowest at epoch 3" in line for line in lines)


def test_reading_confusion_names_the_worst_pair() -> None:
    lines = read_confusion(["noise", "yes", "no"], [[10, 0, 0], [0, 7, 3], [1, 1, 8]])
    assert lines == ["yes is most often taken for no (3 of 10 test samples): "
                     "add more distinct samples of both."]
    assert read_confusion(["a", "b"], [[5, 0], [0, 5]]) == ["every test sample was classified correctly."]


def test_level_meter_holds_the_peak_then_follows() -> None:
    meter = LevelMeter()
    meter.update_level(-30.0, -6.0, now=100.0)
    meter.update_level(-40.0, -20.0, now=100.5)
    assert meter.hold_db == -6.0  # held
    meter.update_level(-40.0, -20.0, now=100.0 + PEAK_HOLD_SECONDS + 0.01)
    assert meter.hold_db == -20.0  # released after the hold time
    assert not meter.silent
    meter.update_level(-90.0, -80.0, now=103.0)
    meter.update_level(-90.0, -80.0, now=105.0)
    assert meter.silent  # two seconds with no peak above the silence threshold
    assert fraction(FLOOR_DB) == 0.0 and fraction(0.0) == 1.0 and fraction(-30.0) == pytest.approx(0.5)


def settings(epochs: str = "", batch: str = "", rate: str = "") -> dict[str, str]:
    return {"epochs": epochs, "batch_size": batch, "learning_rate": rate}


def test_parse_settings() -> None:
    base = TrainSpec()
    assert parse_settings(settings(), base=base) == base
    spec = parse_settings(settings("7", "8", "0.01"), base=base)
    assert (spec.epochs, spec.batch_size, spec.learning_rate) == (7, 8, 0.01)
    with pytest.raises(TrainingError):
        parse_settings(settings("many"), base=base)
    saved = TrainSpec(epochs=100, batch_size=8, learning_rate=0.002, seed=3)
    cleared = parse_settings(settings(), base=saved)  # blank fields: the defaults shown, not the saved values
    assert (cleared.epochs, cleared.batch_size, cleared.learning_rate, cleared.seed) == (50, 16, 0.001, 3)
    for epochs in ("0", "101", "10080002", "-3", "2.5"):
        with pytest.raises(TrainingError, match="Epochs"):
            parse_settings(settings(epochs), base=base)
    assert parse_settings(settings("100"), base=base).epochs == 100
    stream = parse_stream_settings("0.8", "5")
    assert (stream.threshold, stream.smooth_windows) == (0.8, 5)
    with pytest.raises(CaptureError):
        parse_stream_settings("2", "")  # out of range: core refuses it


def test_count_bar() -> None:
    assert count_bar(5, 20).plain == "██░░░░░░░░ 5/20"
    assert count_bar(40, 20).plain == "██████████ 40 ✓"


def test_choose_project(tmp_path: Path) -> None:
    root = tmp_path / "p"
    Project.create(root, name="p")
    (root / "samples" / "x").mkdir()
    assert choose_project(root / "samples" / "x", tmp_path) == root  # DIR inside a project
    assert choose_project(None, root / "samples") == root  # the current folder's project
    assert choose_project(None, tmp_path) is None  # none: the Project tab
