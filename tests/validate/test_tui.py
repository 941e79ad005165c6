"""The Validate tab's Calibrate/Apply and `k` (keep what was heard, on the PulseAudio virtual mic),
the Data map's suspects, and the Train tab saying the model is out of date."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from textual.widgets import DataTable, Input, OptionList

from core.audio import load
from core.project import Project
from core.spec import BACKGROUND_NOISE
from tests.tui.conftest import TrackBackend
from tests.tui.test_workflow import Recorder, settle
from tests.validate.conftest import SR, tone_take
from tests.validate.test_cli import PATTERN
from tui import messages as msg
from tui.app import EarshotApp
from tui.screens.calibrate import CalibrateDialog, CalibrationFinished
from tui.screens.datamap import DataMapBuilt, DataMapScreen
from tui.screens.keep import ClassPicker, WindowKept
from tui.screens.validate import ValidatePane
from tui.services import Services
from tui.widgets.class_table import ClassTable

pytestmark = [pytest.mark.slow]


async def wait_for(pilot: Any, recorder: Recorder, kind: type, timeout: float = 60.0,
                   count: int = 1) -> list[Any]:
    for _ in range(int(timeout / 0.1)):
        found = recorder.of(kind)
        if len(found) >= count:
            return found
        await pilot.pause(0.1)
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def text(app: EarshotApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def test_calibrate_then_apply_sets_and_saves_the_setting(tones: Callable[[], Project],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.screens.calibrate.MINUTES", 1.0)
    project = tones()
    recorder = Recorder()
    app = EarshotApp(project.root, services=Services(TrackBackend(np.zeros(SR, np.float32)), prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        assert app.query_one("#threshold", Input).value == ""
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CalibrateDialog)
        [finished] = await wait_for(pilot, recorder, CalibrationFinished, 120)
        result = finished.result
        assert result is not None and result.sounds > 5
        await pilot.pause()
        shown = text(app, "#calibrate-result")
        assert f"Recommended  threshold {result.recommended.threshold:<4g} smoothing" in shown
        assert app.screen.query_one("#calibrate-curve").result is result
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, CalibrateDialog)
        rec = result.recommended
        assert app.query_one("#threshold", Input).value == f"{rec.threshold:g}"
        assert app.query_one("#smoothing", Input).value == str(rec.smooth)
    saved = Project.open(project.root)
    assert saved.settings("validate") == {"threshold": rec.threshold, "smooth_windows": rec.smooth}
    assert saved.settings("calibration")["threshold"] == rec.threshold


async def test_closing_calibrate_changes_nothing(tones: Callable[[], Project],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.screens.calibrate.MINUTES", 1.0)
    project = tones()
    app = EarshotApp(project.root, services=Services(TrackBackend(np.zeros(SR, np.float32)), prewarm=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4", "c")
        await pilot.pause()
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, CalibrateDialog)
    assert Project.open(project.root).settings("validate") == {}


@pytest.mark.hardware
async def test_k_keeps_the_heard_window_while_the_virtual_mic_plays(tones: Callable[[], Project],
                                                                     pulse_mic: Any) -> None:
    from tui.sources import PortAudioBackend

    project = tones()
    noise = project.get_class(BACKGROUND_NOISE)
    before = len(project.samples(noise))
    recorder = Recorder()
    app = EarshotApp(project.root, services=Services(PortAudioBackend(), prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("k")  # not listening yet: a hint, nothing kept
        await pilot.pause()
        assert not isinstance(app.screen, ClassPicker)
        # Hiss from the start (digital silence is nothing this model ever heard), tones from 2 s on.
        player = pulse_mic.play(tone_take(PATTERN, 20.0), SR, wait=False)
        try:
            await pilot.pause(0.5)
            await pilot.press("l")
            await wait_for(pilot, recorder, msg.DecisionMade, 30)
            await pilot.press("k")
            await pilot.pause()
            assert isinstance(app.screen, ClassPicker)
            options = app.screen.query_one(OptionList)
            assert options.get_option_at_index(0).id == BACKGROUND_NOISE
            heard = len(recorder.of(msg.WindowScored))
            await pilot.press("enter")
            [kept] = await wait_for(pilot, recorder, WindowKept, 10)
            assert kept.kept is not None and kept.kept.class_name == BACKGROUND_NOISE
            await wait_for(pilot, recorder, msg.WindowScored, 10, count=heard + 8)  # still listening
            assert app.query_one("ValidatePane").listening
        finally:
            player.kill()  # only this player, and out of the session's list: later waits must not see it
            player.wait()
            if player in pulse_mic.players:
                pulse_mic.players.remove(player)
        await pilot.press("s")
        await settle(app, pilot)
        window = load(kept.kept.path, SR)
        assert np.sqrt(np.mean(window ** 2)) > 0.03  # the tone behind the decision, not the quiet hiss
        assert len(Project.open(project.root).samples(noise)) == before + 1
        counts = app.query_one(ClassTable).get_row(project.get_class(BACKGROUND_NOISE).id)
        assert f"{before + 1} " in str(counts[1])  # the Data tab's count follows
        await pilot.press("3")
        await pilot.pause()
        assert "out of date: 1 new sample" in str(app.query_one("#train-status").render())


async def test_the_data_map_lists_the_mislabelled_sample_and_deletes_it(tones: Callable[[], Project]) -> None:
    import os

    project = tones()
    high = project.samples(project.get_class("high"))[2]
    wrong = project.samples_dir(project.get_class("low")) / f"oops-{high.name}"
    os.replace(high, wrong)
    recorder = Recorder()
    app = EarshotApp(project.root, services=Services(TrackBackend(np.zeros(SR, np.float32)), prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, DataMapScreen)
        await wait_for(pilot, recorder, DataMapBuilt, 60)
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.get_row_at(0)[0] == wrong.name and "'high'" in table.get_row_at(0)[2]
        await pilot.press("delete")
        await pilot.pause()
        assert not wrong.exists() and (project.root / "trash" / "samples" / "low" / wrong.name).exists()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DataMapScreen)


class SlowMicrophones(TrackBackend):
    """Microphones whose reads take 0.4 s; counts how many are open at once."""

    def __init__(self) -> None:
        super().__init__(np.zeros(60 * SR, np.float32), speed=1)
        self.lock = threading.Lock()
        self.open = self.most_open = 0

    def open_microphone(self, key: str | None, sample_rate: int) -> Any:
        backend, source = self, super().open_microphone(key, sample_rate)

        class Slow:
            def start(self) -> None:
                with backend.lock:
                    backend.open += 1
                    backend.most_open = max(backend.most_open, backend.open)
                source.start()

            def read(self, timeout: float = 0.1) -> Any:
                time.sleep(0.4)
                return source.read(timeout=timeout)

            def stop(self) -> None:
                source.stop()
                with backend.lock:
                    backend.open -= 1

            def __getattr__(self, name: str) -> Any:
                return getattr(source, name)

        return Slow()


async def test_listen_right_after_stop_waits_for_the_last_listener(tones: Callable[[], Project]) -> None:
    """A cancelled worker counts as finished while its thread still reads: the next Listen must not
    run the model (nor open the microphone) beside it."""
    project = tones()
    mics, recorder = SlowMicrophones(), Recorder()
    app = EarshotApp(project.root, services=Services(mics, prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("4")
        await settle(app, pilot)

        def started(n: int) -> bool:
            return len([m for m in recorder.of(msg.ListeningStopped) if m.reason == "started"]) >= n

        async def until(n: int) -> None:
            for _ in range(300):
                if started(n):
                    return
                await pilot.pause(0.1)
            raise AssertionError(f"listening did not start {n} times")

        await pilot.press("l")
        await until(1)
        await pilot.pause(0.5)
        await pilot.press("s")
        pane = app.query_one(ValidatePane)
        while pane.listening:  # the worker ends at once, its thread within the 0.4 s read
            await pilot.pause(0.02)
        await pilot.press("l")
        await until(2)
        await pilot.pause(0.6)  # the previous listener's end came in before: still listening
        assert mics.most_open == 1, "two listeners ran at once"
        assert not app.query_one("#stop-btn").disabled and app.query_one("#listen-btn").disabled
        await pilot.press("s")
        await settle(app, pilot)
        for _ in range(50):  # the last listener's thread closes its microphone within one 0.4 s read
            if mics.open == 0:
                break
            await pilot.pause(0.1)
    assert mics.most_open == 1 and mics.open == 0


def test_app_tests_keep_recent_projects_out_of_the_users_config(isolated_config: Any, tmp_path: Any) -> None:
    """tests/conftest.py's autouse fixture: opening a project here never edits ~/.config/earshot."""
    from tui import recent

    root = tmp_path / "p"
    Project.create(root, name="p")
    recent.remember(root)
    assert recent.config_dir() == isolated_config / "earshot"
    assert (isolated_config / "earshot" / "recent.json").is_file()
