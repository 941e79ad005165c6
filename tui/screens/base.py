"""What every pane and dialog shares: the project it shows and how worker failures are reported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.widgets import TabPane
from textual.worker import Worker

from core.errors import EarshotError
from core.project import Project

if TYPE_CHECKING:
    from tui.app import EarshotApp


class ReportsWorkerFailures:
    """Forward worker state changes (which do not bubble) to the app's single handler."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        app: EarshotApp = self.app  # type: ignore[attr-defined]
        app.report_worker_state(event)


class ProjectTab(ReportsWorkerFailures, TabPane):
    """A tab that shows the open project; `show_project` runs when a project is opened."""

    BINDINGS = [Binding("escape", "focus_default", "Leave the field", show=False)]
    TITLE = ""
    TAB_ID = ""
    DEFAULT_FOCUS = ""  # selector of the widget that gets focus when the tab is shown

    def __init__(self) -> None:
        super().__init__(self.TITLE, id=self.TAB_ID)

    @property
    def earshot(self) -> EarshotApp:
        return self.app  # type: ignore[return-value]

    @property
    def project(self) -> Project | None:
        return self.earshot.project

    def focus_default(self) -> None:
        if self.DEFAULT_FOCUS:
            self.query_one(self.DEFAULT_FOCUS).focus()

    def action_focus_default(self) -> None:
        self.focus_default()

    def action_focus_field(self, selector: str) -> None:
        self.query_one(selector).focus()

    def on_show(self) -> None:
        """Focus the tab's main widget unless the user is on the tab bar, then run `shown`."""
        focused = self.app.focused
        if focused is None or not focused.display or not self.app.screen.can_view_entire(focused):
            self.focus_default()
        self.shown()

    def shown(self) -> None:
        """The tab became visible."""

    def show_project(self, project: Project | None) -> None:
        """Show a newly opened project."""

    def project_changed(self) -> None:
        """Classes or samples changed."""

    def fail(self, title: str, error: EarshotError) -> None:
        self.earshot.show_error(title, error)

    def need_project(self) -> Project | None:
        """The open project, or None after telling the user to open one."""
        if self.project is None:
            self.notify("Open or create a project first (tab 1, Project).", title="No project",
                        severity="warning")
        return self.project
