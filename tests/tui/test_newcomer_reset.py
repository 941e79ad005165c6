"""Newcomer walk at 80x24: a new project clears the old one's results, failed workers update their
status line, one check of Validate's threshold for every action, undo after a class delete, and
the app's keys where core's hints name CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.widgets import Input, RichLog, Static

from core.audio import save_wav
from core.errors import DeployError, EarshotError
from core.project import Project
from tests.tui.test_workflow import Recorder, answer_path, answer_text, settle
from tui import messages as msg
from tui.app import EarshotApp
from tui.hints import app_hint, error_text
from tui.screens.dialogs import ConfirmDialog
from tui.services import Services
from tui.widgets.score_bars import ScoreBars, TopLabel

SIZE = (80, 24)


def text_of(app: EarshotApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def messages(app: EarshotApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_export_without_a_model_says_failed_on_its_line(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    Project.create(root, name="empty")
    app = EarshotApp(root, services=Services(prewarm=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5", "e")
        await settle(app, pilot)
        line = text_of(app, "#export-result")
        assert "Exporting" not in line and "Export failed" in line and "no trained model" in line
        shown = [m for m in messages(app) if "no trained model" in m]
        assert shown and "earshot train" not in shown[0] and "press 3 (Train), then t" in shown[0]


@pytest.mark.slow
async def test_new_project_clears_results_and_threshold_is_checked_for_every_action(
        trained: dict[str, Any], tmp_path: Path) -> None:
    clip = tmp_path / "track.wav"
    save_wav(clip, trained["track"][: 16000 * 6], 16000)
    import shutil

    root = Path(shutil.copytree(trained["root"], tmp_path / "words"))  # its settings change: a copy
    recorder = Recorder()
    app = EarshotApp(root, services=Services(prewarm=False))
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await pilot.press("4")
        await pilot.pause()
        app.query_one("#threshold", Input).value = "2"
        for key in ("f", "c", "l"):  # the same refusal for each, before anything runs
            app.action_focus_tab()
            await pilot.press(key)
            await pilot.pause()
            assert len(app.screen_stack) == 1, key
            assert "Threshold 2 is out of range" in text_of(app, "#validate-status"), key
        refusals = [m for m in messages(app) if "Threshold 2 is out of range" in m]
        assert len(refusals) == 3 and all("above 0 up to 1" in m for m in refusals)
        app.query_one("#threshold", Input).value = "0.6"
        app.action_focus_tab()
        await pilot.press("f")
        await answer_path(pilot, clip)
        await settle(app, pilot)
        assert recorder.of(msg.FileClassified) and app.query_one(ScoreBars).scores
        assert app.query_one("#decisions", RichLog).lines
        await pilot.press("5")
        app.query_one("#export-result", Static).update("Exported words.zip")  # what an export leaves
        app.query_one("#board-result", Static).update("listening on the old board")

        await pilot.press("1", "n")
        await pilot.press(*"Bird Calls")
        app.query_one("#new-folder", Input).value = str(tmp_path / "Bird Calls")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.project is not None and app.project.name == "Bird Calls"
        await pilot.press("4")
        await pilot.pause()
        assert app.query_one(ScoreBars).scores == {} and app.query_one(TopLabel).label is None
        assert not app.query_one("#decisions", RichLog).lines
        assert "No model yet" in text_of(app, "#validate-status")
        await pilot.press("5")
        await pilot.pause()
        assert "Exported" not in text_of(app, "#export-result")
        assert "old board" not in text_of(app, "#board-result")


async def test_undo_after_deleting_the_class_of_an_upload(words_project: Path, tmp_path: Path) -> None:
    folder = tmp_path / "chirps"
    folder.mkdir()
    for n in range(3):
        noise = np.random.default_rng(n).normal(0, 0.1 * (n + 1), 16000).astype(np.float32)
        save_wav(folder / f"chirp{n}.wav", noise, 16000)
    app = EarshotApp(words_project, services=Services(prewarm=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await answer_text(pilot, "chirp")
        await pilot.press("u")
        await answer_path(pilot, folder)
        await settle(app, pilot)
        project = Project.open(words_project)
        assert project.sample_count(project.get_class("chirp")) == 3
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("z")
        await pilot.pause()
        assert not any("Undid" in m for m in messages(app))
        assert any("Nothing to undo" in m for m in messages(app))
        assert [c.name for c in Project.open(words_project).classes] == ["Background Noise", "yes", "no"]


def test_core_hints_name_the_apps_keys() -> None:
    assert app_hint("train it first: earshot train /tmp/walk/Bird Calls") == \
        "train it first: press 3 (Train), then t"
    assert app_hint("create one with: earshot new /x") == "create one with: press 1 (Project), then n"
    assert app_hint("export one with 'earshot export DIR'") == "export one with press 5 (Deploy), then e"
    assert app_hint("connect one, or use --input FILE") == \
        "connect one, or classify a file instead (4, then f)"
    assert app_hint("use a value from 0 to 1") == "use a value from 0 to 1"
    assert error_text(DeployError("no model", "train it with: earshot train p")) == \
        "no model\ntrain it with: press 3 (Train), then t"
    assert error_text(EarshotError("plain")) == "plain"


async def test_train_settings_by_keyboard_show_the_way_back_and_help_lists_each_key_once(
        tmp_path: Path) -> None:
    from tui.widgets.key_bar import KeyBar

    root = tmp_path / "p"
    Project.create(root, name="p")
    app = EarshotApp(root, services=Services(prewarm=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "s")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.focused, Input) and app.focused.id == "epochs"
        bar = app.query_one(KeyBar)
        assert ("esc", "Back to the tab's keys", True) in bar.items()
        assert "Back to the tab's keys" in bar.render().plain
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.focused, Input)
        assert any(key == "t" for key, _, _ in bar.items())
        rows = [(title, b.key, b.tooltip or b.description) for title, bindings in app.key_sections()
                for b in bindings]
        assert [r for r in rows if r[1] == "escape" and "tab's keys" in r[2]] == [
            ("Everywhere", "escape", "Back to the tab's keys")]
        assert any(r[1] == "s" and "model" in r[2] for r in rows if r[0] == "Train")
        assert [title for title, _ in app.key_sections()][:5] == [
            "Everywhere", "Project", "Data", "Record", "Train"]


@pytest.mark.slow
async def test_during_and_after_training_other_tabs_say_so_and_quit_asks(
        trained: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import threading

    import core.train

    gate = threading.Event()  # real training, held after its first epoch until the test looked
    real_train = core.train.train

    def held_train(*args: Any, on_epoch: Any, **kwargs: Any) -> Any:
        def epoch(metrics: Any) -> None:
            on_epoch(metrics)
            gate.wait(30)
        return real_train(*args, on_epoch=epoch, **kwargs)

    monkeypatch.setattr(core.train, "train", held_train)

    from tui.app import QuitDialog

    root = Path(shutil.copytree(trained["root"], tmp_path / "words"))  # trained again: a copy
    clip = tmp_path / "track.wav"
    save_wav(clip, trained["track"][: 16000 * 4], 16000)
    recorder = Recorder()
    app = EarshotApp(root, services=Services(prewarm=False))
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await pilot.press("4", "f")
        await answer_path(pilot, clip)
        await settle(app, pilot)
        assert app.query_one(ScoreBars).scores
        await pilot.press("3")
        app.query_one("#epochs", Input).value = "5"
        await pilot.press("t", "ctrl+q")
        assert "Training now" in text_of(app, "#data-tips")
        assert isinstance(app.screen, QuitDialog) and app.is_running
        await pilot.press("n")  # keep training
        assert app.is_running and len(app.screen_stack) == 1
        gate.set()
        await settle(app, pilot)
        assert recorder.of(msg.TrainingFinished)[-1].result is not None  # type: ignore[attr-defined]
        assert "Ready to train" in text_of(app, "#data-tips")
        assert app.query_one(ScoreBars).scores == {} and app.query_one(TopLabel).label is None
        assert "new model was saved" in text_of(app, "#validate-status")


def test_export_line_says_which_figure_is_which_model() -> None:
    from tui.screens.deploy import accuracy_line

    ear = {"keras": 0.56, "float32": 0.56, "int8": 0.62, "test_clips": 50, "speech": 1.0}
    assert accuracy_line(ear, "speech", 50) == (
        "test accuracy (50 clips): speech 100%; board model (small CNN) float 56%, int8 62%")
    small = {"keras": 0.9, "float32": 0.9, "int8": 0.88, "test_clips": 50}
    assert accuracy_line(small, "small", 50) == \
        "test accuracy (50 clips) of the small CNN: float 90%, int8 88%"
    nothing = {"keras": float("nan"), "float32": float("nan"), "int8": float("nan")}
    assert accuracy_line(nothing, "small", 0) == ""


def test_sample_names_are_cut_in_the_middle() -> None:
    from tui.screens.data import middle_cut

    a, b = "background-noise-2-c8e1f0a4", "background-noise-2-c8b7d2e9"
    assert middle_cut(a, 40) == a
    assert len(middle_cut(a, 16)) == 16 and middle_cut(a, 16) != middle_cut(b, 16)
    assert middle_cut(a, 16) == "backgro…c8e1f0a4"
