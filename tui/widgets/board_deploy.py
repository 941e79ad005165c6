"""Deploy tab section "Run on a Linux board": deploy the model over SSH, show its status, stop it.

The board listens by itself and pushes to the broker of the Real-time Result Push form. ssh runs with
the user's own keys and config and never prompts (no password dialogs inside the app); a board that
wants a password gets a line saying how to set up a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Static

from core.errors import DeployError, EarshotError
from core.project import Project
from tui.screens.base import ReportsWorkerFailures

SETTINGS = "board"  # the project's saved board address


@dataclass
class BoardProgressed(Message):
    text: str


@dataclass
class BoardFinished(Message):
    text: str


@dataclass
class BoardFailed(Message):
    error: EarshotError


BOARD_INTRO = ("The board runs the model itself and pushes its labels to the broker above. Needs an "
               "SSH key on the board (ssh-copy-id USER@HOST, once).")


class BoardSection(ReportsWorkerFailures, Vertical):
    """The address of the board, Deploy and listen / Status / Stop, and what happened."""

    DEFAULT_CSS = "BoardSection { height: auto; } #board-install { width: auto; }"

    def __init__(self, project: Callable[[], Project | None], push: Callable[[Project], Any]) -> None:
        super().__init__(id="board-section")
        self.get_project, self.get_push = project, push
        self.ssh: Any = None  # core.deploy.linux_ssh.SshOptions; None: the user's own ssh config
        self.env: dict[str, str] = {}  # the listener's environment on the board (e.g. PULSE_SERVER)

    def compose(self) -> ComposeResult:
        yield Label("Run on a Linux board (Raspberry Pi, UNIHIKER) over SSH", classes="section")
        with Horizontal(classes="form-row"):
            yield Input(placeholder="ssh://pi@raspberrypi.local", id="board-target")
            yield Checkbox("install packages", id="board-install")
        with Horizontal(classes="button-row"):
            yield Button("Deploy and listen", variant="primary", id="board-deploy-btn", classes="compact")
            yield Button("Status", id="board-status-btn", classes="compact")
            yield Button("Stop", id="board-stop-btn", classes="compact")
        yield Static(BOARD_INTRO, id="board-result", classes="dim")

    def show_project(self, project: Project | None) -> None:
        saved = project.settings(SETTINGS) if project is not None else {}
        self.query_one("#board-target", Input).value = str(saved.get("target", ""))
        self.workers.cancel_group(self, "board")  # a deploy or status of the previous project
        for button in self.query(Button):
            button.disabled = False
        self.query_one("#board-result", Static).update(BOARD_INTRO)

    def _target(self) -> tuple[Project, Any] | None:
        from core.deploy.linux_ssh import SshTarget

        project = self.get_project()
        if project is None:
            return None
        text = self.query_one("#board-target", Input).value.strip()
        if not text:
            self.notify("Type the board's address, e.g. ssh://pi@raspberrypi.local", title="Run on a board",
                        severity="warning")
            self.query_one("#board-target", Input).focus()
            return None
        try:
            target = SshTarget.parse(text)
        except DeployError as error:
            self.app.show_error("Run on a board", error)  # type: ignore[attr-defined]
            return None
        project.set_settings(SETTINGS, {"target": text})
        return project, target

    def _busy(self, text: str) -> None:
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#board-result", Static).update(text)

    @on(Button.Pressed, "#board-deploy-btn")
    @on(Input.Submitted, "#board-target")
    def deploy(self) -> None:
        chosen = self._target()
        if chosen is None:
            return
        project, target = chosen
        try:
            push = self.get_push(project)
        except EarshotError as error:
            self.app.show_error("Run on a board", error)  # type: ignore[attr-defined]
            return
        self._busy(f"Deploying to {target}...")
        self.run_deploy(project, target, push, self.query_one("#board-install", Checkbox).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="board", description="Deploy to a board")
    def run_deploy(self, project: Project, target: Any, push: Any, install: bool) -> None:
        from core.deploy.linux_deploy import deploy_to_board
        from core.deploy.linux_service import ListenOptions

        def progress(text: str) -> None:
            self.post_message(BoardProgressed(text))

        try:
            listen = ListenOptions(push=push.to_dict(), env=self.env)
            result = deploy_to_board(project.root, target, ssh=self.ssh, listen=listen, service=True,
                                     install=install, on_status=progress)
        except EarshotError as error:
            self.post_message(BoardFailed(error))
            return
        started = result.started
        how = (f"systemd unit {started.unit}" if started and started.unit
               else f"background process {started.pid}" if started else "not started")
        copied = "already there" if result.unchanged else f"{len(result.copied)} files copied and verified"
        lines = [f"[green]Listening on {target}[/] ({how}), pushing to {push.display_url}",
                 f"release {result.release}: {copied}"]
        lines += [f"note: {note}" for note in result.notes]
        self.post_message(BoardFinished("\n".join(lines)))

    @on(Button.Pressed, "#board-status-btn")
    def status(self) -> None:
        chosen = self._target()
        if chosen is not None:
            self._busy(f"Asking {chosen[1]}...")
            self.run_status(chosen[1], stop=False)

    @on(Button.Pressed, "#board-stop-btn")
    def stop(self) -> None:
        chosen = self._target()
        if chosen is not None:
            self._busy(f"Stopping the listener on {chosen[1]}...")
            self.run_status(chosen[1], stop=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="board", description="Board status")
    def run_status(self, target: Any, stop: bool) -> None:
        from core.deploy.linux_deploy import status_on_board, stop_on_board

        try:
            if stop:
                done = stop_on_board(target, self.ssh)
                text = "Stopped." if done["stopped"] else "Nothing was running."
            else:
                text = status_text(status_on_board(target, self.ssh))
        except EarshotError as error:
            self.post_message(BoardFailed(error))
            return
        self.post_message(BoardFinished(text))

    def on_board_progressed(self, message: BoardProgressed) -> None:
        self.query_one("#board-result", Static).update(escape(message.text))

    def on_board_finished(self, message: BoardFinished) -> None:
        for button in self.query(Button):
            button.disabled = False
        self.query_one("#board-result", Static).update(message.text)

    def on_board_failed(self, message: BoardFailed) -> None:
        for button in self.query(Button):
            button.disabled = False
        self.query_one("#board-result", Static).update(f"[red]{escape(message.error.message)}[/]")
        self.app.show_error("Run on a board", message.error)  # type: ignore[attr-defined]


def status_text(status: dict[str, Any]) -> str:
    if not status.get("deployed"):
        return f"Nothing deployed at {status['target']}."
    state = "[green]listening[/]" if status["running"] else "[yellow]not running[/]"
    since = f" for {status['seconds']} s" if status.get("seconds") is not None else ""
    lines = [f"{state}{since}: {', '.join(status.get('labels', []))} (release {status.get('release')})"]
    if status.get("config", {}).get("push"):
        lines.append(f"pushing to {status['config']['push']}")
    return "\n".join(lines + [f"| {escape(line)}" for line in status.get("log", [])[-3:]])
