"""Project tab: create a project, open one (typed, or from the recent list), or open the demo."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, ListItem, ListView, Static

from core.errors import EarshotError
from core.project import Project
from tui import recent
from tui.messages import ActionFailed, DemoBuilt, ProjectChosen
from tui.paths import shown_path
from tui.screens.base import ProjectTab


def projects_folder(cwd: Path) -> Path:
    """Where new projects go: the current folder, or beside the project it is in (never inside one)."""
    inside = Project.find(cwd)
    return inside.parent if inside is not None else cwd


class ProjectPane(ProjectTab):
    TITLE = "Project"
    TAB_ID = "project"
    KEY = "1"
    DEFAULT_FOCUS = ("#recent",)
    BINDINGS = [
        Binding("n", "focus_field('#new-name')", "New", tooltip="New project: type its name"),
        Binding("o", "focus_field('#open-path')", "Open", tooltip="Open a project folder"),
        Binding("r", "focus_field('#recent')", "Recent", tooltip="Recent projects (Enter opens)"),
        Binding("m", "open_demo", "Demo", tooltip="Open the demo project (built on first use)"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("No project open.", id="project-status", classes="status")
            yield Label("New project", classes="section")
            with Horizontal(classes="form-row"):
                yield Input(placeholder="name, e.g. Music Genre Recognition", id="new-name")
                yield Input(placeholder=f"folder (default: {shown_path(projects_folder(Path.cwd()))}/NAME)",
                            id="new-folder")
                yield Button("Create", variant="primary", id="create")
            yield Label("Open project", classes="section")
            with Horizontal(classes="form-row"):
                yield Input(placeholder="project folder", id="open-path")
                yield Button("Open", id="open")
                yield Button("Open demo", id="demo")
            yield Label("Recent projects", classes="section")
            yield ListView(id="recent")

    def on_mount(self) -> None:
        self.fill_recent()

    def fill_recent(self) -> None:
        view = self.query_one("#recent", ListView)
        view.clear()
        items = recent.load_recent()
        for path in items:
            item = ListItem(Label(f"{path.name}  [dim]{path}[/]", markup=True))
            item.project_path = path  # type: ignore[attr-defined]
            view.append(item)
        if not items:
            view.append(ListItem(Label("(none yet)")))

    def show_project(self, project: Project | None) -> None:
        super().show_project(project)
        status = self.query_one("#project-status", Static)
        if project is None:
            status.update("No project open.")
            return
        summary = project.summary()
        total = sum(c.samples for c in summary.classes)
        status.update(f"Open: [b]{project.name}[/b]  {shown_path(project.root)}\n"
                      f"{len(summary.classes)} classes, {total} samples, "
                      f"{summary.sample_rate} Hz, {summary.clip_seconds:g} s clips")
        self.fill_recent()

    def project_changed(self) -> None:
        self.show_project(self.project)

    @on(Input.Submitted, "#new-name, #new-folder")
    @on(Button.Pressed, "#create")
    def create(self) -> None:
        name = self.query_one("#new-name", Input).value.strip()
        folder = self.query_one("#new-folder", Input).value.strip()
        if not name and not folder:
            self.notify("Type a name for the new project.", title="New project", severity="warning")
            self.query_one("#new-name", Input).focus()
            return
        path = Path(folder).expanduser() if folder else projects_folder(Path.cwd()) / name.replace("/", "-")
        self.post_message(ProjectChosen(path, create=True, name=name or None))

    @on(Input.Submitted, "#open-path")
    @on(Button.Pressed, "#open")
    def open_typed(self) -> None:
        text = self.query_one("#open-path", Input).value.strip()
        if not text:
            self.notify("Type the folder of a project.", title="Open project", severity="warning")
            return
        path = Path(text).expanduser()
        self.post_message(ProjectChosen(Project.find(path) or path))

    @on(ListView.Selected, "#recent")
    def open_recent(self, event: ListView.Selected) -> None:
        path = getattr(event.item, "project_path", None)
        if path is not None:
            self.post_message(ProjectChosen(path))

    @on(Button.Pressed, "#demo")
    def action_open_demo(self) -> None:
        path = projects_folder(Path.cwd()) / "earshot-demo"
        if not (path / "project.json").exists():
            self.notify(f"Building the demo project in {path}...", title="Demo")
        self.build_demo(path)

    def on_demo_built(self, message: DemoBuilt) -> None:
        self.post_message(ProjectChosen(message.path))

    @work(thread=True, exclusive=True, exit_on_error=False, group="demo", description="Open demo")
    def build_demo(self, path: Path) -> None:
        from core import demo

        try:
            result = demo.create_demo(path)
        except EarshotError as error:
            self.post_message(ActionFailed("Cannot build the demo", error))
            return
        self.post_message(DemoBuilt(result.project.root))
