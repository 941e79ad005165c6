"""Newcomer findings that need a trained model and real workers: keys after tab switches while
listening and while training, cleared settings, the listening clock, and state after a cancelled
training or a failed file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.widgets import Input

from core.project import Project
from tests.tui.conftest import TrackBackend
from tests.tui.test_workflow import Recorder, answer_path, settle
from tui import messages as msg
from tui.app import EarshotApp
from tui.screens.dialogs import TextDialog
from tui.services import Services
from tui.widgets.charts import MetricChart
from tui.widgets.class_table import ClassTable
from tui.widgets.confusion import ConfusionMatrix

pytestmark = [pytest.mark.slow]


async def wait_for(pilot: Any, recorder: Recorder, kind: type, timeout: float = 60.0) -> list[Any]:
    for _ in range(int(timeout / 0.1)):
        found = recorder.of(kind)
        if found:
            return found
        await pilot.pause(0.1)
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


async def test_listening_keys_and_clock_after_tab_switches(trained: dict[str, Any]) -> None:
    track = np.tile(trained["track"], 3)  # about 40 s in real time: still listening after the switches
    recorder = Recorder()
    app = EarshotApp(trained["root"], services=Services(TrackBackend(track, speed=1), prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        assert "Ready: Listen" in str(app.query_one("#validate-status").render())
        await pilot.press("l")
        await wait_for(pilot, recorder, msg.WindowScored, 30)
        await pilot.press("2", "3", "4")  # away and back while listening
        await pilot.pause()
        assert app.focused is app.query_one("#stop-btn")
        await pilot.pause(1.0)
        seconds = [m.seconds for m in recorder.of(msg.WindowScored)]  # type: ignore[attr-defined]
        status = str(app.query_one("#validate-status").render())
        shown = float(status.split("Listening:")[1].split(" s")[0])
        assert 0 < shown < max(seconds) + 1 < 20  # the stream's own seconds, never a process clock
        await pilot.press("s")  # the status says "Stop with s": it does
        await settle(app, pilot)
        stopped = recorder.of(msg.ListeningStopped)[-1]
        assert stopped.reason == "cancelled" and stopped.seconds < 30  # type: ignore[attr-defined]
        assert app.focused is app.query_one("#listen-btn")
        await pilot.press("f")  # a file that is not audio: the status says so, not "Classifying..."
        await answer_path(pilot, trained["root"] / "project.json")
        await settle(app, pilot)
        status = str(app.query_one("#validate-status").render())
        assert "Cannot classify project.json" in status and "Classifying" not in status


async def test_training_keys_cleared_settings_and_a_cancel_that_keeps_the_charts(
        trained: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "words"
    shutil.copytree(trained["root"], root)
    project = Project.open(root)
    saved = json.loads((root / "models" / "latest" / "metadata.json").read_text())
    project.set_train_spec(project.train_spec.__class__(epochs=100, batch_size=8, learning_rate=0.002,
                                                      model="small"))  # long enough to cancel
    recorder = Recorder()
    app = EarshotApp(root, services=Services(prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert app.query_one("#epochs", Input).value == "100"  # saved values are shown as values
        for field in ("#epochs", "#batch-size", "#learning-rate"):
            app.query_one(field, Input).value = ""  # cleared: the greyed defaults apply
        await pilot.press("t")
        first = (await wait_for(pilot, recorder, msg.EpochEnded, 120))[0]
        assert first.metrics.epochs == 50  # type: ignore[attr-defined]
        spec = Project.open(root).train_spec
        assert (spec.epochs, spec.batch_size, spec.learning_rate) == (50, 16, 0.001)
        await pilot.press("2", "3")  # away and back while training
        await pilot.pause()
        assert app.focused is app.query_one("#cancel-btn")
        await pilot.press("c")
        await settle(app, pilot)
        finished = recorder.of(msg.TrainingFinished)
        assert len(finished) == 1 and finished[0].cancelled  # type: ignore[attr-defined]
        # the saved model's charts, matrix and reading are back, as the status says
        assert app.query_one("#accuracy-chart", MetricChart).epochs == [h["epoch"] for h in saved["history"]]
        assert app.query_one(ConfusionMatrix).matrix == saved["confusion"]
        status = str(app.query_one("#train-status").render())
        assert "saved model is unchanged" in status and f"{saved['metrics']['test_accuracy']:.0%}" in status
        assert app.focused is app.query_one("#train-btn")

        # train 1 epoch and go to the Data tab before it ends: its keys work when training finishes
        app.query_one("#epochs", Input).value = "1"
        await pilot.press("t")
        await pilot.press("2")
        await settle(app, pilot)
        assert len(recorder.of(msg.TrainingFinished)) == 2
        assert app.focused is app.query_one(ClassTable)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TextDialog)
        await pilot.press("escape")
        result = recorder.of(msg.TrainingFinished)[-1].result  # type: ignore[attr-defined]
        await pilot.press("3")
        await pilot.pause()
        # one test accuracy for the model everywhere: status, reading and metadata agree
        metadata = json.loads((root / "models" / "latest" / "metadata.json").read_text())
        figure = f"{metadata['metrics']['test_accuracy']:.0%}"
        assert f"{result.test_accuracy:.0%}" == figure
        assert f"test accuracy {figure}" in str(app.query_one("#train-status").render())
        reading = str(app.query_one("#reading").render())
        assert figure in reading


async def test_train_tab_lists_the_test_clips_the_model_gets_wrong(trained: dict[str, Any]) -> None:
    from core.evaluate import evaluate_project

    expected = evaluate_project(trained["root"]).mistakes
    assert expected, "the 12-epoch model gets some test clips wrong"
    recorder = Recorder()
    app = EarshotApp(trained["root"], services=Services(prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        table = app.query_one("#mistakes")
        assert table.row_count == len(expected)
        assert table.display
        first = table.get_row_at(0)
        assert first[1] == expected[0].label and first[2] == expected[0].predicted
