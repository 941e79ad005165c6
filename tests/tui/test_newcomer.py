"""What a newcomer met (issue 12), each as a pilot test: keys after tab switches, Add a Class's
default, uploads of a Download Sample zip, the live label, a long file's headline, no board, push
errors that say why, and the key bar at 80x24."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import Input, RichLog

from core.deploy.ports import board_ports, list_board_ports
from core.deploy.serial import SerialPortInfo
from core.project import Project
from core.samplezip import export_samples
from tests.tui.test_workflow import Recorder, answer_path, settle
from tui import messages as msg
from tui.app import PANES, EarshotApp
from tui.screens.dialogs import ChoiceDialog, ConfirmDialog, TextDialog
from tui.screens.project import projects_folder
from tui.services import Services
from tui.widgets.class_table import ClassTable
from tui.widgets.key_bar import KeyBar
from tui.widgets.score_bars import ScoreBars, TopLabel

ROOT = Path(__file__).resolve().parents[2]


def quiet_services(**kwargs: Any) -> Services:
    return Services(prewarm=False, **kwargs)


async def test_add_a_class_accepts_the_default_and_background_noise_cannot_go(tmp_path: Path) -> None:
    root = tmp_path / "p"
    Project.create(root, name="p").add_class("yes")
    app = EarshotApp(root, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TextDialog)
        assert app.screen.query_one(Input).value == "Class3"  # shown as a value, not a placeholder
        await pilot.press("enter")  # as in Mind+: Enter accepts the name shown
        await pilot.pause()
        assert [c.name for c in Project.open(root).classes] == ["Background Noise", "yes", "Class3"]
        app.query_one(ClassTable).move_cursor(row=0)
        await pilot.press("x")  # Background Noise is fixed: refused at once, no question first
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("cannot be deleted" in n.message for n in app._notifications)


async def test_tab_keys_survive_a_disabled_default_and_hidden_focus(words_project: Path) -> None:
    """The tab's keys work in every state: its default button disabled, focus lost, Esc from a field."""
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        pane = app.active_pane
        assert app.focused is app.query_one("#listen-btn")
        # what listening does to the buttons; then away and back
        app.query_one("#listen-btn").disabled = True
        app.query_one("#stop-btn").disabled = False
        await pilot.pause()
        assert app.focused is not None and pane in app.focused.ancestors  # focus was not lost
        await pilot.press("2", "4")
        await pilot.pause()
        assert app.focused is app.query_one("#stop-btn")
        assert "Stop" in str(app.query_one(KeyBar).render())
        # a field, then Esc: back to the tab's keys
        await pilot.press("m")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.query_one("#stop-btn")
        # a hidden tab's widget must never hold focus (Train finishing while the Data tab is shown)
        await pilot.press("2")
        await pilot.pause()
        app.query_one("TrainPane").focus_if_active("#train-btn")
        await pilot.pause()
        assert app.focused is app.query_one(ClassTable)
        app.query_one("#train-btn").focus()  # even if something does focus it
        await pilot.pause()
        await pilot.pause()
        assert app.focused is not None and app.active_pane in app.focused.ancestors
        await pilot.press("a")  # the Data tab's keys work
        await pilot.pause()
        assert isinstance(app.screen, TextDialog)


async def test_essential_keys_fit_at_80x24(words_project: Path) -> None:
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        for n, pane in enumerate(PANES, 1):
            await pilot.press(str(n))
            await pilot.pause()
            await pilot.pause()
            bar = app.query_one(KeyBar)
            text = str(bar.render())
            shown = [b for b in pane.BINDINGS if b.show and b.key != "escape"]
            for binding in shown:
                assert binding.description in text, (pane.TITLE, binding.description, text)
            assert "Help" in text and "Quit" in text
            assert bar.region.bottom == 24 and bar.region.height <= 2


def test_tab_labels_show_their_keys() -> None:
    assert [f"{p.KEY} {p.TITLE}" for p in PANES] == ["1 Project", "2 Data", "3 Train", "4 Validate",
                                                      "5 Deploy"]


async def test_live_label_falls_back_when_nothing_passes_the_threshold(words_project: Path) -> None:
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        pane = app.active_pane
        top = app.query_one(TopLabel)
        pane.post_message(msg.WindowScored(1.0, {"Background Noise": 0.1, "yes": 0.8, "no": 0.1}, -20.0))
        await pilot.pause()
        assert top.label == "yes"
        pane.post_message(msg.WindowScored(2.0, {"Background Noise": 0.42, "yes": 0.16, "no": 0.42}, -50.0))
        await pilot.pause()
        assert top.label is None and "—" in str(top.render())
        status = str(app.query_one("#validate-status").render())
        assert "Listening:    2.0 s" in status  # the stream's seconds, not Textual's message clock


async def test_a_long_file_shows_the_labels_found_and_a_timeline(words_project: Path) -> None:
    sequence = ["Background Noise"] * 13 + ["no"] * 4 + ["yes"] * 3
    windows = [SimpleNamespace(start=float(i), label=lab, confidence=0.9) for i, lab in enumerate(sequence)]
    prediction = SimpleNamespace(label="Background Noise", confidence=0.65, windows=windows,
                                 scores={"Background Noise": 0.5, "yes": 0.2, "no": 0.3})
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        app.active_pane.post_message(msg.FileClassified(Path("words.wav"), prediction))
        await pilot.pause()
        headline = str(app.query_one(TopLabel).render())
        assert "NO ×4" in headline and "YES ×3" in headline and "50%" not in headline
        assert app.query_one(ScoreBars).scores == pytest.approx({"Background Noise": 0.65, "yes": 0.15,
                                                                 "no": 0.2})  # the vote's shares
        log = "\n".join(str(line.text) for line in app.query_one(RichLog).lines)
        assert "·" * 13 + "NNNNYYY" in log
        status = str(app.query_one("#validate-status").render())
        assert "·" * 13 + "NNNNYYY" in status and "Background Noise 13, no 4, yes 3" in status
        app.active_pane.post_message(msg.FileClassified(Path("bad.txt"), None, "not an audio file"))
        await pilot.pause()
        status = str(app.query_one("#validate-status").render())
        assert "Cannot classify bad.txt" in status and "not an audio file" in status


async def test_validate_knows_whether_a_model_exists(words_project: Path) -> None:
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        assert "No model yet" in str(app.query_one("#validate-status").render())
    metadata = words_project / "models" / "latest" / "metadata.json"
    metadata.parent.mkdir(parents=True)
    metadata.write_text("{}")
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        assert "Ready: Listen (l)" in str(app.query_one("#validate-status").render())


async def test_download_sample_zip_uploaded_with_another_class_selected(words_project: Path,
                                                                       tmp_path: Path) -> None:
    archive = export_samples(Project.open(words_project), tmp_path / "yes.zip", classes=["yes"]).path
    root = tmp_path / "other"
    Project.create(root, name="other").add_class("no")
    recorder = Recorder()
    app = EarshotApp(root, services=quiet_services())
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.pause()
        app.query_one(ClassTable).move_cursor(row=1)  # "no" selected
        await pilot.press("u")
        await answer_path(pilot, archive)
        assert isinstance(app.screen, ChoiceDialog)  # asks instead of importing "yes" clips as "no"
        assert "yes" in app.screen.question and "no" in app.screen.question
        await pilot.press("enter")  # the default: into its own class
        await settle(app, pilot)
    project = Project.open(root)
    assert project.sample_count(project.get_class("no")) == 0
    assert project.sample_count(project.get_class("yes")) == 24


async def test_flash_with_no_board_says_so(words_project: Path) -> None:
    uarts = [SerialPortInfo("/dev/ttyS0", "n/a", "n/a"), SerialPortInfo("/dev/ttyS1", "n/a", "n/a")]
    services = quiet_services(serial_ports=lambda: list_board_ports(lambda: uarts))
    app = EarshotApp(words_project, services=services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        assert "No board is plugged in" in str(app.query_one("#flash-result").render())
        await pilot.press("f")
        await pilot.pause()
        assert "No board is plugged in" in str(app.query_one("#flash-result").render())


def test_board_ports_put_usb_boards_first_and_leave_out_uarts() -> None:
    ports = [SerialPortInfo("/dev/ttyS0", "n/a", "n/a"),
             SerialPortInfo("/dev/ttyUSB0", "USB2.0-Serial", "USB VID:PID=1234:5678", 0x1234, 0x5678),
             SerialPortInfo("/dev/ttyACM0", "Board in FS mode", "USB VID:PID=2E8A:0005", 0x2E8A, 0x0005)]
    found = board_ports(ports)
    assert [p.device for p in found] == ["/dev/ttyACM0", "/dev/ttyUSB0"]
    assert found[0].known and "Raspberry Pi" in found[0].label and "2e8a:0005" in found[0].label
    assert not found[1].known
    assert board_ports(ports[:1]) == []


def test_new_projects_go_beside_an_open_one(tmp_path: Path) -> None:
    root = tmp_path / "lab" / "words"
    Project.create(root, name="words")
    assert projects_folder(root / "samples") == tmp_path / "lab"
    assert projects_folder(tmp_path) == tmp_path


def test_help_takes_its_sections_as_data() -> None:
    code = "import sys, tui.screens.help; print('tui.app' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.hardware
async def test_push_keeps_the_reason_it_is_not_connected(words_project: Path, broker: Any) -> None:
    recorder = Recorder()
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        for field, value in (("#push-host", broker.host), ("#push-port", str(broker.port)),
                             ("#push-user", broker.user), ("#push-password", "wrong"),
                             ("#push-topic", "earshot/reason")):
            app.query_one(field, Input).value = value
        app.query_one("#export-btn").focus()
        await pilot.press("p")
        for _ in range(100):  # until the publisher says it will retry (after the refusal)
            await pilot.pause(0.1)
            if any(m.state == "retrying" for m in recorder.of(msg.PushStatusChanged)):  # type: ignore
                break
        await pilot.pause(0.6)  # the stats refresh
        status = str(app.query_one("#push-status").render())
        assert "not authorised" in status and "retrying in" in status, status
        await pilot.press("o")
        await settle(app, pilot)
        status = str(app.query_one("#push-status").render())
        assert "Disconnected" in status and "not authorised" in status


async def test_samples_newest_first_with_levels_and_undo(words_project: Path, word_split: Any) -> None:
    app = EarshotApp(words_project, services=quiet_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(ClassTable)
        table.move_cursor(row=1)  # yes
        await settle(app, pilot)
        samples = app.query_one("#samples")
        assert samples.row_count == 24
        strip = str(samples.get_row_at(0)[0])
        assert len(strip) == 12 and set(strip) <= set(" ▁▂▃▄▅▆▇█")  # a level strip per clip
        first = Path(str(samples.coordinate_to_cell_key(samples.cursor_coordinate).row_key.value))
        samples.focus()
        await pilot.press("delete")
        await pilot.pause()
        assert not first.exists() and samples.row_count == 23
        await pilot.press("z")  # undo the delete
        await settle(app, pilot)
        assert first.exists() and samples.row_count == 24
        # an upload of new clips into "no", then undo: they go to the trash
        table.move_cursor(row=2)
        table.focus()
        await pilot.press("u")
        await answer_path(pilot, word_split.held_out["no"])
        await settle(app, pilot)
        project = Project.open(words_project)
        assert project.sample_count(project.get_class("no")) == 25
        newest = Path(str(samples.coordinate_to_cell_key((0, 0)).row_key.value))
        assert newest.parent.name == project.get_class("no").folder and newest.stat().st_mtime >= max(
            p.stat().st_mtime for p in project.samples(project.get_class("no")))  # newest on top
        await pilot.press("z")
        await settle(app, pilot)
        assert Project.open(words_project).sample_count(project.get_class("no")) == 24
        await pilot.press("z")  # only once
        await pilot.pause()
        assert any("Nothing to undo" in n.message for n in app._notifications)


@pytest.mark.hardware
async def test_record_dialog_shows_the_level_before_recording(words_project: Path, pulse_mic: Any,
                                                              dataset_files: list[Any]) -> None:
    from tui.screens.record import RecordDialog
    from tui.widgets.level_meter import LevelMeter

    if pulse_mic.keepalive is None:
        pulse_mic.keep_running()
    noise = next(f.path for f in dataset_files if f.path.name == "pink_noise.wav")
    app = EarshotApp(words_project, services=quiet_services())  # PortAudio: the virtual microphone
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        assert isinstance(app.screen, RecordDialog)
        dialog = app.screen
        meter = dialog.query_one(LevelMeter)
        for _ in range(100):
            await pilot.pause(0.1)
            if meter.active:
                break
        assert meter.active, str(dialog.query_one("#record-status").render())
        pulse_mic.play(noise, wait=False)
        for _ in range(50):
            await pilot.pause(0.1)
            if meter.hold_db > -40:
                break
        assert meter.hold_db > -40  # the meter moves before r is pressed
        assert "Press r to record" in str(dialog.query_one("#record-status").render())
        pulse_mic.stop()
        await pilot.press("escape")
        await app.workers.wait_for_complete()
    pulse_mic.players.clear()
