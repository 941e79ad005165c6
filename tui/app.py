"""The earshot app: five tabs (Project, Data, Train, Validate, Deploy), a key bar and a help screen.

Handlers live on the pane that owns them; the app opens projects (panes post ProjectChosen),
switches tabs, keeps focus on the visible tab's keys and reports unexpected worker failures in one
place. What the app talks to outside itself comes in one Services object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Header, TabbedContent
from textual.widgets._tabbed_content import ContentTabs

from core.errors import EarshotError
from core.project import Project
from tui import recent
from tui.hints import error_text
from tui.messages import (
    ActionFailed,
    ProjectChanged,
    ProjectChosen,
    ProjectOpened,
    TrainingStateChanged,
    WorkerFailed,
)
from tui.paths import shown_path
from tui.screens.base import ProjectTab
from tui.screens.data import DataPane
from tui.screens.deploy import DeployPane
from tui.screens.dialogs import ConfirmDialog, PathDialog, TextDialog
from tui.screens.help import HelpScreen, KeySection, bindings_of
from tui.screens.project import ProjectPane
from tui.screens.record import RecordDialog
from tui.screens.train import TrainPane
from tui.screens.validate import ValidatePane
from tui.services import Services
from tui.widgets.key_bar import KeyBar


class QuitDialog(ConfirmDialog):
    """Quit while training? (its own class, so Ctrl-Q in it quits.)"""


PANES: tuple[type[ProjectTab], ...] = (ProjectPane, DataPane, TrainPane, ValidatePane, DeployPane)


class EarshotApp(App[None]):
    """Record, train, validate and deploy a sound classifier from the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "earshot"
    ENABLE_COMMAND_PALETTE = False
    AUTO_FOCUS = None  # each tab focuses its own main widget when shown
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("escape", "focus_tab", "Back to the tab's keys", show=False),
        *[Binding(str(n), f"show_tab('{pane.TAB_ID}')", pane.TITLE, show=False)
          for n, pane in enumerate(PANES, 1)],
    ]

    def __init__(self, project_dir: Path | None = None, *, services: Services | None = None) -> None:
        super().__init__()
        self.services = services or Services()
        self.project: Project | None = None
        self._initial = project_dir

    def compose(self) -> ComposeResult:
        yield Header(icon="♪")
        with TabbedContent(initial="project", id="tabs"):
            for pane in PANES:
                yield pane(self.services)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(ContentTabs).can_focus = False  # 1-5 switch tabs; focus stays on a tab's keys
        self.watch(self.screen, "focused", self.focus_changed, init=False)
        if self._initial is not None:
            self.open_project(self._initial)
        self.call_after_refresh(self._refocus)

    def on_unmount(self) -> None:
        """Quitting while pushing: send what is queued (briefly) and disconnect cleanly."""
        publisher = self.services.push.detach()
        if publisher is not None:
            publisher.stop(timeout=1.0)

    # -- projects ---------------------------------------------------------------------------

    def on_project_chosen(self, message: ProjectChosen) -> None:
        self.open_project(message.path, create=message.create, name=message.name)

    def open_project(self, path: Path, *, create: bool = False, name: str | None = None) -> bool:
        """Open (or create) a project and show it on every pane; report failures and return False."""
        try:
            project = Project.create(path, name=name) if create else Project.open(path)
        except EarshotError as error:
            self.show_error("Cannot open project" if not create else "Cannot create project", error)
            return False
        self.project = project
        self.sub_title = f"{project.name} · {shown_path(project.root)}"
        recent.remember(project.root)
        for pane in self.query(ProjectTab):
            pane.show_project(project)
        self.post_message(ProjectOpened(project.root))
        self.action_show_tab("data")
        self.active_pane.focus_default()
        return True

    def on_project_changed(self, message: ProjectChanged) -> None:
        for pane in self.query(ProjectTab):
            pane.project_changed()

    def on_training_state_changed(self, message: TrainingStateChanged) -> None:
        for pane in self.query(ProjectTab):
            pane.training_changed(message.running, message.saved)

    # -- errors -----------------------------------------------------------------------------

    def show_error(self, title: str, error: EarshotError) -> None:
        self.notify(error_text(error), title=title, severity="error", timeout=8)

    def on_action_failed(self, message: ActionFailed) -> None:
        self.show_error(message.title, message.error)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        """The one place failed workers are reported (panes and dialogs post WorkerFailed)."""
        error: Any = message.error
        if isinstance(error, EarshotError):
            self.show_error(message.title, error)
        else:
            self.notify(f"{type(error).__name__}: {error}", title=f"{message.title} failed unexpectedly",
                        severity="error", timeout=10)

    # -- navigation and focus ---------------------------------------------------------------

    @property
    def active_pane(self) -> ProjectTab:
        tabs = self.query_one(TabbedContent)
        return self.query_one(f"#{tabs.active}", ProjectTab)

    def action_show_tab(self, tab: str) -> None:
        if len(self.screen_stack) > 1:
            return  # a dialog is open: it answers first
        self.screen.set_focus(None)  # a focused widget in the old tab would switch back to it
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if isinstance(event.pane, ProjectTab):
            event.pane.activated()

    def action_focus_tab(self) -> None:
        """Esc anywhere on the main screen: back to the visible tab's main widget and its keys."""
        if len(self.screen_stack) == 1:
            self.active_pane.focus_default()

    def focus_changed(self, focused: Widget | None) -> None:
        """Focus lost (a focused button got disabled) or gone to a hidden tab: back to the visible tab."""
        if len(self.screen_stack) > 1 or self.screen is not self.screen_stack[0]:
            return
        pane = self.active_pane
        if focused is None or pane not in focused.ancestors:
            self.call_after_refresh(self._refocus)

    async def on_key(self, event: events.Key) -> None:
        """A key no focused widget took, with nothing focused: the visible tab's key still works."""
        if len(self.screen_stack) > 1 or self.screen.focused is not None:
            return
        pane = self.active_pane
        pane.focus_default()
        for binding in bindings_of(type(pane)):
            if event.key in binding.key.split(","):
                event.stop()
                await pane.run_action(binding.action)
                return
        if self.screen.focused is not None:  # a key for the tab's main widget (arrows in a table)
            event.stop()
            self.simulate_key(event.key)

    def _refocus(self) -> None:
        if len(self.screen_stack) == 1 and not self.active_pane.holds_focus():
            self.active_pane.focus_default()

    def key_sections(self) -> list[KeySection]:
        """(section, bindings) for the app, each tab and each dialog, in workflow order."""
        owners: list[tuple[str, type]] = [(pane.TITLE, pane) for pane in PANES]
        owners.insert(2, ("Record", RecordDialog))  # after Data
        owners += [("Yes/no questions", ConfirmDialog), ("File picker", PathDialog),
                   ("Text input", TextDialog)]
        everywhere = bindings_of(EarshotApp)
        listed = {(b.key, b.description) for b in everywhere}
        every_tab = [b for b in bindings_of(ProjectTab) if (b.key, b.description) not in listed]
        sections = [("Everywhere", everywhere)] + ([("Every tab", every_tab)] if every_tab else [])
        return sections + [(title, bindings_of(owner)) for title, owner in owners]

    async def action_quit(self) -> None:
        """Quit; while training, ask first (Ctrl-Q again, or y, quits; the saved model is unchanged)."""
        train = self.query_one(TrainPane)
        if not train.training or isinstance(self.screen, QuitDialog):
            self.exit()
            return

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                train.action_cancel()
                self.exit()

        self.push_screen(QuitDialog("Training is running: quit and keep the previous model?"), answered)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_sections()))
