"""Deploy tab, "Run on a Linux board": deploy to the sshd board, hear its labels at the broker, stop it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input

from core.deploy.linux_ssh import SshOptions
from core.project import Project
from tests.board.words import SR, Track
from tests.fixtures.broker import Broker, Subscriber
from tests.fixtures.pulse import PulseMic
from tests.fixtures.sshd import SshBoard
from tests.tui.test_workflow import Recorder, settle
from tui.app import EarshotApp
from tui.services import Services
from tui.widgets.board_deploy import BoardFailed, BoardFinished, BoardSection

pytestmark = [pytest.mark.slow, pytest.mark.hardware]


@pytest.fixture
def project_with_export(trained_project: Path, words_zip: Path) -> Path:
    """The trained project with its export beside it (newer than the model: deploy reuses it)."""
    shutil.copyfile(words_zip, trained_project / "words-model.zip")
    return trained_project


async def test_run_on_a_linux_board(project_with_export: Path, sshd_board: SshBoard, mosquitto: Broker,
                                    pulse_mic: PulseMic, track: Track) -> None:
    os.chmod(pulse_mic.runtime_dir, 0o755)  # the board user records from the virtual microphone too
    folder = sshd_board.folder_on_board("tui-")
    recorder = Recorder()
    app = EarshotApp(project_with_export, services=Services(prewarm=False))
    with Subscriber(mosquitto, "siot/tui-board", client_id="tui-board") as subscriber:
        async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
            await pilot.press("5")
            await settle(app, pilot)
            for field, value in (("#push-host", mosquitto.host), ("#push-port", str(mosquitto.port)),
                                 ("#push-user", mosquitto.user), ("#push-password", mosquitto.password),
                                 ("#push-topic", "siot/tui-board")):
                app.query_one(field, Input).value = value
            section = app.query_one(BoardSection)
            section.ssh = SshOptions(config=sshd_board.config)
            section.env = {"PULSE_SERVER": pulse_mic.server}
            app.query_one("#board-target", Input).value = sshd_board.url(folder)
            app.query_one("#board-install", Checkbox).value = True
            app.query_one("#export-btn").focus()
            await pilot.press("b")
            await settle(app, pilot)
            assert not recorder.of(BoardFailed), recorder.of(BoardFailed)[0].error  # type: ignore[attr-defined]
            text = str(app.query_one("#board-result").render())
            assert "Listening on" in text and "background process" in text and "files copied" in text
            pulse_mic.play(track.audio, SR)
            subscriber.wait_for(len(track.labels), timeout=30)
            assert subscriber.wait_quiet(1.0) == track.labels

            app.query_one("#board-status-btn").press()
            await pilot.pause()
            await settle(app, pilot)
            assert "listening" in str(app.query_one("#board-result").render())
            app.query_one("#board-stop-btn").press()
            await pilot.pause()
            await settle(app, pilot)
            assert str(app.query_one("#board-result").render()).startswith("Stopped")
            assert len(recorder.of(BoardFinished)) == 3
    assert Project.open(project_with_export).settings("board")["target"] == sshd_board.url(folder)


async def test_a_board_that_refuses_the_connection(project_with_export: Path, sshd_board: SshBoard) -> None:
    from tests.fixtures.sshd import free_port

    recorder = Recorder()
    app = EarshotApp(project_with_export, services=Services(prewarm=False))
    async with app.run_test(size=(80, 24), message_hook=recorder) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        port = free_port()
        app.query_one(BoardSection).ssh = SshOptions(config=sshd_board.config)
        app.query_one("#board-target", Input).value = f"ssh://pi@127.0.0.1:{port}"
        app.query_one("#export-btn").focus()
        await pilot.press("b")
        await settle(app, pilot)
        failed = recorder.of(BoardFailed)
        assert len(failed) == 1
        assert f"127.0.0.1:{port} refuses SSH connections" in str(app.query_one("#board-result").render())
        assert not app.query_one("#board-deploy-btn").disabled
