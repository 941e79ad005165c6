"""The earshot app: five tabs (Project, Data, Train, Validate, Deploy), a footer and a help screen.

Handlers live on the pane that owns them; the app only opens projects, switches tabs, shows errors
and catches unexpected worker failures in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent
from textual.worker import Worker, WorkerState

from core.errors import EarshotError
from core.project import Project
from tui import recent
from tui.messages import ActionFailed, ProjectChanged, ProjectOpened
from tui.screens.base import ProjectTab
from tui.screens.data import DataPane
from tui.screens.deploy import DeployPane
from tui.screens.help import HelpScreen
from tui.screens.project import ProjectPane
from tui.screens.train import TrainPane
from tui.screens.validate import ValidatePane
from tui.sources import AudioBackend, default_backend


def list_serial_ports() -> list[Any]:
    from core.deploy.serial import list_serial_ports as listed

    return list(listed())


TABS = ("project", "data", "train", "validate", "deploy")


class EarshotApp(App[None]):
    """Record, train, validate and deploy a sound classifier from the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "earshot"
    ENABLE_COMMAND_PALETTE = False
    AUTO_FOCUS = None  # each tab focuses its own main widget when shown
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *[Binding(str(n), f"show_tab('{tab}')", tab.title(), show=False) for n, tab in enumerate(TABS, 1)],
    ]

    def __init__(self, project_dir: Path | None = None, *, backend: AudioBackend | None = None,
                 serial_ports: Callable[[], list[Any]] | None = None, prewarm: bool = True) -> None:
        """`backend` gives microphones, `serial_ports` lists boards (core.deploy.serial by default);
        `prewarm` imports TensorFlow in the background when the Train tab is first shown."""
        super().__init__()
        self.project: Project | None = None
        self.publisher: Any = None  # a started core.push.mqtt.MqttPublisher while pushing
        self.backend = backend or default_backend()
        self.serial_ports = serial_ports or list_serial_ports
        self.prewarm = prewarm
        self._initial = project_dir

    def compose(self) -> ComposeResult:
        yield Header(icon="♪")
        with TabbedContent(initial="project", id="tabs"):
            yield ProjectPane()
            yield DataPane()
            yield TrainPane()
            yield ValidatePane()
            yield DeployPane()
        yield Footer()

    def on_mount(self) -> None:
        if self._initial is not None:
            self.open_project(self._initial)
        else:
            self.call_after_refresh(self.query_one(ProjectPane).focus_default)

    def on_unmount(self) -> None:
        """Quitting while pushing: send what is queued (briefly) and disconnect cleanly."""
        if self.publisher is not None:
            self.publisher.stop(timeout=1.0)
            self.publisher = None

    # -- projects ---------------------------------------------------------------------------

    def open_project(self, path: Path, *, create: bool = False, name: str | None = None) -> bool:
        """Open (or create) a project and show it on every pane; report failures and return False."""
        try:
            project = Project.create(path, name=name) if create else Project.open(path)
        except EarshotError as error:
            self.show_error("Cannot open project" if not create else "Cannot create project", error)
            return False
        self.project = project
        self.sub_title = f"{project.name} · {project.root}"
        recent.remember(project.root)
        self.post_message(ProjectOpened(project.root))
        self.action_show_tab("data")
        return True

    def on_project_opened(self, message: ProjectOpened) -> None:
        for pane in self.query(ProjectTab):
            pane.show_project(self.project)

    def on_project_changed(self, message: ProjectChanged) -> None:
        for pane in self.query(ProjectTab):
            pane.project_changed()

    # -- errors -----------------------------------------------------------------------------

    def show_error(self, title: str, error: EarshotError) -> None:
        message = error.message + (f"\n{error.hint}" if error.hint else "")
        self.notify(message, title=title, severity="error", timeout=8)

    def on_action_failed(self, message: ActionFailed) -> None:
        self.show_error(message.title, message.error)

    def report_worker_state(self, event: Worker.StateChanged) -> None:
        """The one place failed workers are reported (panes and dialogs forward their events here)."""
        if event.state != WorkerState.ERROR:
            return
        error: Any = event.worker.error
        title = (event.worker.description or event.worker.name or "Background task").split("(")[0]
        if isinstance(error, EarshotError):
            self.show_error(title, error)
        else:
            self.notify(f"{type(error).__name__}: {error}", title=f"{title} failed unexpectedly",
                        severity="error", timeout=10)

    # -- navigation -------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        if len(self.screen_stack) > 1:
            return  # a dialog is open: it answers first
        self.screen.set_focus(None)  # a focused widget in the old tab would switch back to it
        self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
