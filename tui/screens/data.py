"""Data tab: classes and their samples; Record 20 seconds, Upload, Download Sample, play and delete."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static
from textual.worker import get_current_worker

from core.errors import EarshotError
from core.project import ClassInfo, Project
from tui.messages import ActionFailed, ProjectChanged, SamplePlayed, SamplesExported, SamplesImported
from tui.screens.base import ProjectTab
from tui.screens.dialogs import ChoiceDialog, ConfirmDialog, PathDialog, TextDialog
from tui.widgets.class_table import ClassTable

TIPS = ("Tips: make each class's samples distinct and clear, keep the classes about the same size, "
        "and use simple class names.")


class DataPane(ProjectTab):
    TITLE = "Data"
    TAB_ID = "data"
    KEY = "2"
    DEFAULT_FOCUS = ("#classes",)
    BINDINGS = [
        Binding("r", "record", "Record", tooltip="Record 20 seconds into the selected class"),
        Binding("u", "upload", "Upload", tooltip="Upload a zip, folder or audio files into the class"),
        Binding("U", "upload_classes", "Upload classes", key_display="U", show=False,
                tooltip="Upload a zip or folder with one folder per class"),
        Binding("d", "download", "Download", tooltip="Download Sample: save the class's clips as a zip"),
        Binding("a", "add_class", "Add class", tooltip="Add a Class"),
        Binding("n", "rename_class", "Rename", tooltip="Rename the selected class"),
        Binding("x", "remove_class", "Del class", tooltip="Delete the selected class (to the trash)"),
        Binding("p", "play", "Play", tooltip="Play the selected sample"),
        Binding("delete", "delete_sample", "Del sample", key_display="del",
                tooltip="Delete the selected sample (to the trash)"),
        Binding("v", "data_map", "Data map", tooltip="Every sample in 2-D and the suspects to check"),
    ]

    def action_data_map(self) -> None:
        from tui.screens.datamap import DataMapScreen

        project = self.need_project()
        if project is not None:
            self.app.push_screen(DataMapScreen(project))

    def compose(self) -> ComposeResult:
        with Horizontal(classes="data-columns"):
            with Vertical(id="classes-box", classes="box"):
                yield ClassTable(id="classes")
            with Vertical(id="samples-box", classes="box"):
                yield DataTable(id="samples", cursor_type="row")
        with Horizontal(classes="button-row"):
            yield Button("Record 20 seconds", id="record", classes="compact")
            yield Button("Upload", id="upload", classes="compact")
            yield Button("Download Sample", id="download", classes="compact")
            yield Button("Add a Class", id="add-class", classes="compact")
        yield Static(TIPS, id="data-tips", classes="status")

    def on_mount(self) -> None:
        self.query_one("#classes-box").border_title = "Classes"
        self.query_one("#samples-box").border_title = "Samples"
        self.query_one("#samples", DataTable).add_column("Sample", key="name")

    # -- showing ----------------------------------------------------------------------------

    def show_project(self, project: Project | None) -> None:
        super().show_project(project)
        self.query_one(ClassTable).show(project)
        self.show_samples()
        self.show_tips()

    def project_changed(self) -> None:
        self.show_project(self.project)

    def selected_class(self) -> ClassInfo | None:
        project, class_id = self.project, self.query_one(ClassTable).selected_id
        if project is None or class_id is None:
            return None
        return next((c for c in project.classes if c.id == class_id), None)

    @on(DataTable.RowHighlighted, "#classes")
    def show_samples(self) -> None:
        table = self.query_one("#samples", DataTable)
        table.clear()
        info, project = self.selected_class(), self.project
        box = self.query_one("#samples-box")
        if info is None or project is None:
            box.border_title = "Samples"
            return
        samples = project.samples(info)
        box.border_title = f"{info.name}: {len(samples)} samples"
        for path in samples:
            table.add_row(path.name, key=str(path))

    def show_tips(self) -> None:
        project = self.project
        if project is None:
            return
        summary = project.summary()
        lines = [Text(p, style="yellow") for p in summary.problems + summary.warnings]
        if summary.ready and not summary.warnings:
            lines.append(Text("Ready to train (tab 3, Train).", style="green"))
        lines.append(Text(TIPS, style="dim"))
        self.query_one("#data-tips", Static).update(Text("\n").join(lines))

    def selected_sample(self) -> Path | None:
        table = self.query_one("#samples", DataTable)
        if not table.row_count:
            return None
        return Path(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def changed(self, reason: str) -> None:
        self.post_message(ProjectChanged(reason))

    # -- classes ----------------------------------------------------------------------------

    @on(Button.Pressed, "#add-class")
    def action_add_class(self) -> None:
        project = self.need_project()
        if project is None:
            return

        def add(name: str | None) -> None:
            if not name:
                return
            try:
                info = project.add_class(name)
            except EarshotError as error:
                self.fail("Cannot add the class", error)
                return
            self.query_one(ClassTable).show(project)
            self.select_class(info.id)
            self.changed(f"added {info.name}")

        default = next(f"Class{n}" for n in range(len(project.classes) + 1, 10_000)
                       if not project.has_class(f"Class{n}"))
        self.app.push_screen(TextDialog("Add a Class: name (Enter keeps the one shown)", value=default), add)

    def select_class(self, class_id: str) -> None:
        table = self.query_one(ClassTable)
        ids = [c.id for c in self.project.classes] if self.project else []
        if class_id in ids:
            table.move_cursor(row=ids.index(class_id))
            table.focus()

    def action_rename_class(self) -> None:
        project, info = self.project, self.selected_class()
        if project is None or info is None:
            return

        def rename(name: str | None) -> None:
            if not name or name == info.name:
                return
            try:
                project.rename_class(info.name, name)
            except EarshotError as error:
                self.fail("Cannot rename the class", error)
                return
            self.changed(f"renamed {info.name}")

        self.app.push_screen(TextDialog(f"Rename {info.name!r} to", value=info.name), rename)

    def action_remove_class(self) -> None:
        project, info = self.project, self.selected_class()
        if project is None or info is None:
            return
        if info.fixed:
            self.notify(f"{info.name} is the fixed first class and cannot be deleted; delete its samples "
                        "with Del instead.", title="Delete class", severity="warning")
            return

        def remove(yes: bool | None) -> None:
            if not yes:
                return
            try:
                trash = project.remove_class(info.name)
            except EarshotError as error:
                self.fail("Cannot delete the class", error)
                return
            self.notify(f"{info.name} moved to {trash}", title="Class deleted")
            self.changed(f"removed {info.name}")

        count = project.sample_count(info)
        self.app.push_screen(ConfirmDialog(f"Delete class {info.name!r} and its {count} samples? "
                                           "(they go to the project's trash folder)"), remove)

    # -- samples ----------------------------------------------------------------------------

    def action_delete_sample(self) -> None:
        project, path = self.project, self.selected_sample()
        if project is None or path is None:
            return
        try:
            project.delete_sample(path)
        except EarshotError as error:
            self.fail("Cannot delete the sample", error)
            return
        self.notify(f"{path.name} moved to the trash", title="Sample deleted")
        self.changed(f"deleted {path.name}")

    def action_play(self) -> None:
        path = self.selected_sample()
        if path is None:
            self.notify("Select a class with samples first.", title="Play", severity="warning")
            return
        self.notify(f"Playing {path.name}...", title="Play", timeout=2)
        self.play(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="play", description="Play sample")
    def play(self, path: Path) -> None:
        from tui.playback import play_file

        try:
            play_file(path, self.project.audio.sample_rate if self.project else 16000)
        except EarshotError as error:
            self.post_message(ActionFailed("Cannot play the sample", error))
            return
        self.post_message(SamplePlayed(path))

    # -- record, upload, download -----------------------------------------------------------

    @on(Button.Pressed, "#record")
    def action_record(self) -> None:
        from tui.screens.record import RecordDialog

        project, info = self.need_project(), self.selected_class()
        if project is None or info is None:
            return
        self.app.push_screen(RecordDialog(project, info, self.services),
                             lambda _: self.changed(f"recorded {info.name}"))

    @on(Button.Pressed, "#upload")
    def action_upload(self) -> None:
        project, info = self.need_project(), self.selected_class()
        if project is not None and info is not None:
            self.ask_upload(project, info)

    def action_upload_classes(self) -> None:
        project = self.need_project()
        if project is not None:
            self.ask_upload(project, None)

    def ask_upload(self, project: Project, info: ClassInfo | None) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.upload_checked(project, info, path)

        title = (f"Upload into {info.name}: a zip, a folder or audio files" if info else
                 "Upload classes: a zip or folder with one folder per class")
        self.app.push_screen(PathDialog(title, Path.cwd()), chosen)

    def upload_checked(self, project: Project, info: ClassInfo | None, path: Path) -> None:
        """Upload, but ask first when a Download Sample zip holds other classes than the selected one."""
        from core.zipmanifest import manifest_classes

        try:
            classes = manifest_classes(path) if info is not None else []
        except EarshotError as error:
            self.fail("Upload failed", error)
            return
        if info is None or not classes or classes == [info.name]:
            self.start_upload(project, info, path)
            return
        names = ", ".join(classes)
        own = f"Into {names}" if len(classes) == 1 else "Into their own classes"

        def answered(answer: str | None) -> None:
            if answer == "own":
                self.start_upload(project, None, path)
            elif answer == "selected":
                self.start_upload(project, info, path)

        self.app.push_screen(ChoiceDialog(
            f"{path.name} was saved by Download Sample from {names}, but {info.name} is selected. "
            "Where should its samples go?", [("own", own), ("selected", f"Into {info.name}")]), answered)

    def start_upload(self, project: Project, info: ClassInfo | None, path: Path) -> None:
        self.notify(f"Importing {path.name}...", title="Upload", timeout=3)
        self.upload(project, info, path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="upload", description="Upload")
    def upload(self, project: Project, info: ClassInfo | None, path: Path) -> None:
        from core.ingest import import_samples

        cancel = get_current_worker().cancelled_event
        try:
            report = import_samples(project, [path], class_name=info.name if info else None, cancel=cancel)
        except EarshotError as error:
            self.post_message(ActionFailed("Upload failed", error))
            return
        target = info.name if info else "the project"
        self.post_message(SamplesImported(target, report.total, report.summary()))

    def on_samples_imported(self, message: SamplesImported) -> None:
        self.notify(message.summary, title=f"Upload into {message.class_name}")
        self.changed(f"imported {message.added}")

    @on(Button.Pressed, "#download")
    def action_download(self) -> None:
        project, info = self.need_project(), self.selected_class()
        if project is None or info is None:
            return
        default = Path.cwd() / f"{project.name}-{info.folder}.zip".replace(" ", "-")

        def chosen(text: str | None) -> None:
            if text:
                self.download(project, info, Path(text).expanduser())

        self.app.push_screen(TextDialog(f"Download Sample: save {info.name} as", value=str(default)), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="download", description="Download Sample")
    def download(self, project: Project, info: ClassInfo, target: Path) -> None:
        from core import samplezip

        try:
            result = samplezip.export_samples(project, target, classes=[info.name])
        except EarshotError as error:
            self.post_message(ActionFailed("Download Sample failed", error))
            return
        self.post_message(SamplesExported(info.name, result.path, sum(result.counts.values())))

    def on_samples_exported(self, message: SamplesExported) -> None:
        self.notify(f"{message.count} samples of {message.class_name} saved to {message.path}",
                    title="Download Sample")
