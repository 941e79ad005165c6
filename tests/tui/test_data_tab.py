"""Data tab edits by keyboard: add, rename and delete classes, delete a sample, Download Sample."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from textual.widgets import DataTable

from core.project import Project
from tests.fixtures.pulse import PulseMic
from tests.tui.test_workflow import Recorder, answer_text, settle
from tui import messages as msg
from tui.app import EarshotApp
from tui.screens.dialogs import ConfirmDialog
from tui.services import Services
from tui.widgets.class_table import ClassTable


async def test_class_and_sample_edits(words_project: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    app = EarshotApp(words_project, services=Services(prewarm=False))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.pause()
        table = app.query_one(ClassTable)
        assert app.focused is table
        await pilot.press("a")
        await answer_text(pilot, "yes")  # taken: a clear error, nothing added
        assert [m.error.message for m in recorder.of(msg.ActionFailed)] == []  # shown directly, not posted
        assert len(Project.open(words_project).classes) == 3
        await pilot.press("a")
        await answer_text(pilot, "Class4")
        await pilot.press("n")
        await answer_text(pilot, "maybe")
        assert [c.name for c in Project.open(words_project).classes][-1] == "maybe"
        assert "maybe" in str(table.get_row_at(3)[0])

        await pilot.press("x")  # delete the class: asks first
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        assert [c.name for c in Project.open(words_project).classes] == ["Background Noise", "yes", "no"]
        assert any((words_project / "trash").iterdir())

        table.move_cursor(row=1)  # yes
        await pilot.pause()
        samples = app.query_one("#samples", DataTable)
        assert samples.row_count == 24
        samples.focus()
        await pilot.press("delete")
        await pilot.pause()
        project = Project.open(words_project)
        assert project.sample_count(project.get_class("yes")) == 23
        assert samples.row_count == 23
        assert len(list((words_project / "trash" / "samples").rglob("*.wav"))) == 1

        table.focus()
        await pilot.press("d")  # Download Sample of "yes"
        await answer_text(pilot, str(tmp_path / "yes-samples.zip"))
        await settle(app, pilot)
        exported = recorder.of(msg.SamplesExported)
        assert len(exported) == 1 and exported[0].count == 23  # type: ignore[attr-defined]
        with zipfile.ZipFile(tmp_path / "yes-samples.zip") as archive:
            assert len([n for n in archive.namelist() if n.endswith(".wav")]) == 23


@pytest.mark.hardware
async def test_play_sample_through_pulseaudio(words_project: Path, pulse_mic: PulseMic) -> None:
    recorder = Recorder()
    app = EarshotApp(words_project, services=Services(prewarm=False))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.pause()
        await pilot.press("p")  # the first sample of Background Noise, played on the default output
        await settle(app, pilot)
        assert not recorder.of(msg.ActionFailed), recorder.of(msg.ActionFailed)[0].error  # type: ignore
        played = recorder.of(msg.SamplePlayed)
        assert len(played) == 1
        project = Project.open(words_project)
        newest = max(project.samples(project.classes[0]), key=lambda p: (p.stat().st_mtime, p.name))
        assert played[0].path.parent == newest.parent  # type: ignore[attr-defined]
        assert played[0].path.stat().st_mtime == newest.stat().st_mtime  # the top row: the newest
