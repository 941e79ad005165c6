"""What every pane and dialog shares: the services, the project it shows, focus that never strands
the tab's keys, and how worker failures are reported (posted to the app's single handler)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import ContentSwitcher, TabPane
from textual.worker import Worker, WorkerState

from core.errors import EarshotError
from core.project import Project
from tui.hints import error_text
from tui.messages import WorkerFailed
from tui.services import Services


class ReportsWorkerFailures:
    """Post failed workers' errors (Worker.StateChanged does not bubble) to the app's one handler."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            title = (event.worker.description or event.worker.name or "Background task").split("(")[0]
            self.post_message(WorkerFailed(title, event.worker.error))  # type: ignore[attr-defined]
            self.worker_crashed(event.worker)

    def worker_crashed(self, worker: Worker[object]) -> None:
        """A worker raised something unexpected: put its status line right (the app shows the error)."""


class ProjectTab(ReportsWorkerFailures, TabPane):
    """A tab that shows the open project; `show_project` runs when a project is opened.

    The tab's keys work only while focus is inside it, so focus always lands on an enabled widget
    of the visible tab: DEFAULT_FOCUS lists selectors in order of preference (the first enabled one
    wins, else the first focusable widget of the tab), and Esc returns there from any field.
    """

    BINDINGS = [Binding("escape", "focus_default", "Back to the tab's keys", show=False)]
    TITLE = ""
    TAB_ID = ""
    KEY = ""  # the digit that shows this tab
    DEFAULT_FOCUS: tuple[str, ...] = ()

    def __init__(self, services: Services) -> None:
        super().__init__(f"{self.KEY} {self.TITLE}".strip(), id=self.TAB_ID)
        self.services = services
        self.project: Project | None = None

    # -- focus ------------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """The tab is the one shown (a widget of a hidden tab can take focus and steal the keys)."""
        return isinstance(self.parent, ContentSwitcher) and self.parent.current == self.id

    def default_focus(self) -> Widget | None:
        for selector in self.DEFAULT_FOCUS:
            widget = self.query_one(selector)
            if widget.focusable and widget.display:
                return widget
        return next((w for w in self.screen.focus_chain if self in w.ancestors), None)

    def focus_default(self) -> None:
        if self.is_active:
            widget = self.default_focus()
            if widget is not None:
                widget.focus(scroll_visible=True)

    def focus_if_active(self, selector: str) -> None:
        """Focus a widget of this tab if the tab is shown; otherwise leave the user's focus alone."""
        if self.is_active:
            widget = self.query_one(selector)
            if widget.focusable:
                widget.focus()
            else:
                self.focus_default()

    def action_focus_default(self) -> None:
        self.focus_default()

    def action_focus_field(self, selector: str) -> None:
        self.query_one(selector).focus()

    def holds_focus(self) -> bool:
        focused = self.screen.focused
        return focused is not None and self in focused.ancestors and focused.focusable

    def activated(self) -> None:
        """The app made this the visible tab: focus its keys and run `shown`."""
        if not self.holds_focus():
            self.call_after_refresh(self.focus_default)
        self.shown()

    def shown(self) -> None:
        """The tab became visible."""

    # -- the project ------------------------------------------------------------------------

    def show_project(self, project: Project | None) -> None:
        """Show a newly opened project (subclasses call super first)."""
        self.project = project

    def project_changed(self) -> None:
        """Classes or samples changed."""

    def training_changed(self, running: bool, saved: bool) -> None:
        """Training started or ended; `saved`: the project has a new model."""

    def fail(self, title: str, error: EarshotError) -> None:
        self.notify(error_text(error), title=title,
                    severity="error", timeout=8)

    def need_project(self) -> Project | None:
        """The open project, or None after telling the user to open one."""
        if self.project is None:
            self.notify("Open or create a project first (tab 1, Project).", title="No project",
                        severity="warning")
        return self.project
