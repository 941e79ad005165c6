"""The whole workflow driven through the app with the keyboard: create, add classes, upload, train,
validate from a file, export; asserting on widgets and on the messages the workers post."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import DataTable, Input, TabbedContent

from tests.tui.conftest import WordSplit, zip_folder
from tui import messages as msg
from tui.app import EarshotApp
from tui.screens.dialogs import PathDialog, TextDialog
from tui.widgets.charts import MetricChart
from tui.widgets.class_table import ClassTable
from tui.widgets.confusion import ConfusionMatrix
from tui.widgets.score_bars import ScoreBars, TopLabel

SIZE = (100, 34)


class Recorder:
    """Every message the app's widgets receive, in order (the `message_hook` of run_test)."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.seen.append(message)

    def of(self, kind: type[Message]) -> list[Message]:
        # a bubbling message is seen once per node it passes: count each instance once
        unique: dict[int, Message] = {}
        for message in self.seen:
            if isinstance(message, kind):
                unique.setdefault(id(message), message)
        return list(unique.values())


async def settle(app: EarshotApp, pilot) -> None:  # noqa: ANN001 - textual's Pilot
    """Wait for every worker, then for the messages they posted."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def answer_text(pilot, text: str) -> None:  # noqa: ANN001
    assert isinstance(pilot.app.screen, TextDialog)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def answer_path(pilot, path: Path) -> None:  # noqa: ANN001
    assert isinstance(pilot.app.screen, PathDialog)
    pilot.app.screen.query_one("#path", Input).value = str(path)
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.slow
async def test_create_upload_train_validate_export(word_split: WordSplit, tmp_path: Path) -> None:
    recorder = Recorder()
    app = EarshotApp()
    root = tmp_path / "words"
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        # Project: n focuses the name field; type a name, give the folder, Enter creates it
        await pilot.press("n")
        await pilot.press(*"words")
        app.query_one("#new-folder", Input).value = str(root)
        app.query_one("#new-folder", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.project is not None and app.project.root == root
        assert app.query_one(TabbedContent).active == "data"
        assert recorder.of(msg.ProjectOpened)

        # Data: Add a Class twice
        for name in ("yes", "no"):
            await pilot.press("a")
            await answer_text(pilot, name)
        table = app.query_one(ClassTable)
        assert [c.name for c in app.project.classes] == ["Background Noise", "yes", "no"]
        assert table.row_count == 3

        # Upload into each class: two folders and a zip
        table.focus()
        uploads = {"Background Noise": word_split.folders["Background Noise"],
                   "yes": word_split.folders["yes"], "no": zip_folder(word_split.folders["no"])}
        for row, name in enumerate(uploads):
            table.move_cursor(row=row)
            await pilot.press("u")
            await answer_path(pilot, uploads[name])
            await settle(app, pilot)
        imported = recorder.of(msg.SamplesImported)
        assert [m.added for m in imported] == [24, 24, 24]  # type: ignore[attr-defined]
        assert [app.project.sample_count(c) for c in app.project.classes] == [24, 24, 24]
        samples = app.query_one("#samples", DataTable)
        assert samples.row_count == 24
        assert "Ready to train" in str(app.query_one("#data-tips").render())

        # Train: 3 epochs from Advanced Settings; one chart point per epoch
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("3")  # typed into the focused Epochs field
        await pilot.press("enter")  # Enter in a settings field starts training
        await settle(app, pilot)
        epochs = recorder.of(msg.EpochEnded)
        assert [m.metrics.epoch for m in epochs] == [1, 2, 3]  # type: ignore[attr-defined]
        finished = recorder.of(msg.TrainingFinished)
        assert len(finished) == 1 and not finished[0].cancelled  # type: ignore[attr-defined]
        accuracy = app.query_one("#accuracy-chart", MetricChart)
        loss = app.query_one("#loss-chart", MetricChart)
        assert accuracy.epochs == [1, 2, 3] and loss.epochs == [1, 2, 3]
        assert all(0.0 <= a <= 1.0 for a in accuracy.train + accuracy.test)
        assert loss.train == [m.metrics.train_loss for m in epochs]  # type: ignore[attr-defined]
        assert app.project.train_spec.epochs == 3
        assert (root / "models" / "latest" / "metadata.json").is_file()  # any model kind
        reading = str(app.query_one("#reading").render())
        assert "accuracy" in reading
        confusion = app.query_one(ConfusionMatrix)
        assert confusion.labels == ["Background Noise", "yes", "no"]
        result = finished[0].result  # type: ignore[attr-defined]
        assert sum(map(sum, confusion.matrix)) == sum(map(sum, result.evaluation.confusion)) > 0

        # Validate: classify a held-out speaker's "yes"
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("f")
        await answer_path(pilot, word_split.held_out["yes"])
        await settle(app, pilot)
        classified = recorder.of(msg.FileClassified)
        assert len(classified) == 1
        prediction = classified[0].prediction  # type: ignore[attr-defined]
        assert set(prediction.scores) == {"Background Noise", "yes", "no"}
        assert abs(sum(prediction.scores.values()) - 1.0) < 0.01
        assert app.query_one(ScoreBars).scores == prediction.scores
        assert prediction.label.upper() in str(app.query_one(TopLabel).render())

        # Deploy: Export Model
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("e")
        await settle(app, pilot)
        exported = recorder.of(msg.ModelExported)
        assert len(exported) == 1, [str(n) for n in recorder.seen if "Failed" in type(n).__name__]
        path = exported[0].path  # type: ignore[attr-defined]
        assert path.is_file() and path.suffix == ".zip"
        assert any("model.tflite" in line for line in exported[0].contents)  # type: ignore[attr-defined]
        assert str(path) in str(app.query_one("#export-result").render())

    assert not recorder.of(msg.ActionFailed)
    assert "tensorflow" in sys.modules  # training imported it, in a worker


async def test_startup_does_not_import_tensorflow(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from tui.app import EarshotApp\n"
        "async def main():\n"
        "    app = EarshotApp()\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause()\n"
        "        await pilot.press('2')\n"
        "        await pilot.pause()\n"
        "    bad = sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras', 'librosa'})\n"
        "    print('HEAVY', bad)\n"
        "asyncio.run(main())\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout
