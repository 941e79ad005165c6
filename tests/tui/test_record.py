"""Record 20 seconds -> Extract in the record dialog, with the audio source behind the App's backend.

These use a WavFileSource as the microphone (the real PulseAudio microphone is driven in test_tmux.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.capture import WavFileSource
from core.project import Project
from tests.tui.test_workflow import Recorder, settle
from tui import messages as msg
from tui.app import EarshotApp
from tui.screens.record import RecordDialog
from tui.services import Services
from tui.widgets.class_table import ClassTable
from tui.widgets.level_meter import LevelMeter


class ArrayBackend:
    """One "microphone" that plays an array ten times faster than real time."""

    def __init__(self, audio: np.ndarray, sample_rate: int) -> None:
        self.audio, self.sample_rate = audio, sample_rate

    def microphones(self) -> list[tuple[str, str]]:
        return [("array", "test array")]

    def open_microphone(self, key: str | None, sample_rate: int) -> WavFileSource:
        assert key == "array" and sample_rate == self.sample_rate
        return WavFileSource.from_array(self.audio, sample_rate, speed=10)


@pytest.fixture
def noise_project(tmp_path: Path) -> Path:
    root = tmp_path / "rec"
    Project.create(root, name="rec")
    return root


async def record_and_extract(app: EarshotApp, pilot, recorder: Recorder) -> RecordDialog:  # noqa: ANN001
    await pilot.press("r")  # Data tab: open the record dialog on the selected class
    await settle(app, pilot)
    dialog = app.screen
    assert isinstance(dialog, RecordDialog)
    assert str(dialog.query_one("#mic").value) == "array"
    await pilot.press("r")  # Record 20 seconds
    await settle(app, pilot)
    return dialog


async def test_record_then_extract_stores_clips(noise_project: Path, dataset_files: list) -> None:
    from core.audio import load

    noise = next(f.path for f in dataset_files if f.path.name == "pink_noise.wav")
    audio = load(noise, 16000)[: 25 * 16000] * 0.5
    recorder = Recorder()
    app = EarshotApp(noise_project, services=Services(ArrayBackend(audio, 16000)))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.pause()
        dialog = await record_and_extract(app, pilot, recorder)
        ticks = recorder.of(msg.RecordingTicked)
        assert [t.countdown for t in ticks if t.countdown] == [3, 2, 1]  # type: ignore[attr-defined]
        finished = recorder.of(msg.RecordingFinished)
        assert len(finished) == 1
        assert finished[0].seconds == pytest.approx(20.0)  # type: ignore[attr-defined]
        assert not finished[0].cancelled and not finished[0].silent  # type: ignore[attr-defined]
        assert dialog.query_one(LevelMeter).hold_db > -60  # the meter saw the noise (-60 is its floor)
        await pilot.press("e")  # Extract
        await settle(app, pilot)
        extracted = recorder.of(msg.SamplesExtracted)
        assert len(extracted) == 1
        assert extracted[0].kept == 20  # type: ignore[attr-defined]  (fixed 1 s windows of 20 s)
        assert "Kept 20" in str(dialog.query_one("#extract-result").render())
        # the Data tab behind the dialog already shows the new count, before Return
        assert "20 ✓" in str(app.query_one(ClassTable).get_row_at(0)[1])
        await pilot.press("escape")  # Return
        await pilot.pause()
        project = Project.open(noise_project)
        info = project.get_class("Background Noise")
        assert project.sample_count(info) == 20
        assert len(project.recordings(info)) == 1  # the raw recording is kept
        assert "20 ✓" in str(app.query_one(ClassTable).get_row_at(0)[1])


async def test_silent_microphone_is_reported(noise_project: Path) -> None:
    recorder = Recorder()
    silence = np.zeros(25 * 16000, dtype=np.float32)
    app = EarshotApp(noise_project, services=Services(ArrayBackend(silence, 16000)))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.pause()
        dialog = await record_and_extract(app, pilot, recorder)
        finished = recorder.of(msg.RecordingFinished)
        assert len(finished) == 1
        error = finished[0].error  # type: ignore[attr-defined]
        assert error is not None and "silence" in error.message
        status = str(dialog.query_one("#record-status").render())
        assert "Recording failed" in status and "silence" in status  # the reason at once, in the dialog
        assert "Nothing was recorded" not in status
        assert dialog.query_one("#extract-btn").disabled
        assert Project.open(noise_project).recordings(Project.open(noise_project).classes[0]) == []


class BrokenBackend:
    """A backend with a bug: listing microphones raises something that is not an EarshotError."""

    def microphones(self) -> list[tuple[str, str]]:
        raise RuntimeError("device table corrupted")

    def open_microphone(self, key: str | None, sample_rate: int) -> WavFileSource:
        raise AssertionError("never reached")


async def test_unexpected_worker_failure_is_reported_once(noise_project: Path) -> None:
    app = EarshotApp(noise_project, services=Services(BrokenBackend(), prewarm=False))
    async with app.run_test(size=(100, 34)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, RecordDialog)  # the app keeps running
        await pilot.press("3")  # tab keys wait while a dialog is open
        await pilot.pause()
        assert isinstance(app.screen, RecordDialog)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1
        assert errors[0].title == "List microphones failed unexpectedly"
        assert "RuntimeError: device table corrupted" in errors[0].message
