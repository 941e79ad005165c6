"""Data tab: classes and their samples; Record 20 seconds, Upload, Download Sample, play and delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static
from textual.worker import get_current_worker

from core.errors import EarshotError
from core.project import ClassInfo, Project
from tui.messages import (
    ActionFailed,
    ProjectChanged,
    SamplePlayed,
    SamplesExported,
    SamplesImported,
    SampleStripsComputed,
)
from tui.screens.base import ProjectTab
from tui.screens.dialogs import ChoiceDialog, ConfirmDialog, PathDialog, TextDialog
from tui.widgets.class_table import ClassTable

STRIP_WIDTH = 12
BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass
class UndoStep:
    """What z undoes: a deleted sample (trash path, original path) or an upload's new samples."""

    what: str
    restore: tuple[Path, Path] | None = None
    trash: list[Path] = field(default_factory=list)


def middle_cut(name: str, width: int) -> str:
    """`name` in `width` cells, cut in the middle: the end (a clip's number or hash) tells rows apart."""
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return name[:head] + "…" + name[len(name) - (width - 1 - head):]


def newest_first(paths: list[Path]) -> list[tuple[Path, float]]:
    """(path, modification time), the newest first (just recorded or uploaded clips on top)."""
    stamped = []
    for path in paths:
        try:
            stamped.append((path, path.stat().st_mtime))
        except OSError:
            continue
    return sorted(stamped, key=lambda item: (-item[1], item[0].name))


def level_strip(path: Path, width: int = STRIP_WIDTH) -> Text:
    """The clip's loudness over time as a row of block characters (dim when nearly silent)."""
    import numpy as np
    import soundfile

    try:
        y, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, ValueError):
        return Text("unreadable", style="red")
    y = y.mean(axis=1)
    if not y.size:
        return Text("empty", style="dim")
    parts = np.array_split(y, width)
    rms = np.array([float(np.sqrt(np.mean(p ** 2))) if p.size else 0.0 for p in parts])
    db = 20 * np.log10(np.maximum(rms, 1e-6))
    levels = np.clip((db + 60) / 60, 0, 1)
    text = "".join(BLOCKS[int(round(v * (len(BLOCKS) - 1)))] for v in levels)
    return Text(text, style="dim" if db.max() < -50 else "cyan")


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
        Binding("z", "undo", "Undo", tooltip="Undo the last sample delete or upload"),
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.undo_step: UndoStep | None = None
        self.strips: dict[tuple[Path, float], Text] = {}

    def on_mount(self) -> None:
        self.query_one("#classes-box").border_title = "Classes"
        self.query_one("#samples-box").border_title = "Samples (newest first)"
        table = self.query_one("#samples", DataTable)
        table.add_column("Level", key="level", width=STRIP_WIDTH)
        table.add_column("Sample", key="name")

    # -- showing ----------------------------------------------------------------------------

    def show_project(self, project: Project | None) -> None:
        if project is not self.project:
            self.undo_step = None  # it refers to the previous project's samples
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
        samples = newest_first(project.samples(info))
        # the box less the level column, two cells of padding per column and the scroll bar
        width = max(12, box.content_size.width - STRIP_WIDTH - 6) if box.content_size.width else 22
        self._name_width = width
        box.border_title = f"{info.name}: {len(samples)} samples, newest first"
        missing = []
        for path, mtime in samples:
            strip = self.strips.get((path, mtime))
            if strip is None:
                missing.append((path, mtime))
            table.add_row(strip or Text("…", style="dim"), middle_cut(path.stem, width), key=str(path))
        if missing:
            self.compute_strips(info.id, missing)

    _name_width = 0

    def on_resize(self) -> None:
        """Names are cut to the samples box: cut them again when the terminal's width changes."""
        box = self.query_one("#samples-box")
        if box.content_size.width and max(12, box.content_size.width - STRIP_WIDTH - 6) != self._name_width:
            self.show_samples()

    @work(thread=True, exclusive=True, exit_on_error=False, group="strips", description="Sample levels")
    def compute_strips(self, class_id: str, paths: list[tuple[Path, float]]) -> None:
        strips = {key: level_strip(key[0]) for key in paths}
        self.post_message(SampleStripsComputed(class_id, strips))

    def on_sample_strips_computed(self, message: SampleStripsComputed) -> None:
        self.strips.update(message.strips)
        if self.query_one(ClassTable).selected_id != message.class_id:
            return
        table = self.query_one("#samples", DataTable)
        for (path, _mtime), strip in message.strips.items():
            if str(path) in table.rows:
                table.update_cell(str(path), "level", strip)

    def show_tips(self) -> None:
        project = self.project
        if project is None:
            return
        summary = project.summary()
        lines = [Text(p, style="yellow") for p in summary.problems + summary.warnings]
        if self.training_now:
            lines.append(Text("Training now (tab 3): samples added now count from the next training.",
                              style="cyan"))
        elif summary.ready and not summary.warnings:
            lines.append(Text("Ready to train (tab 3, Train).", style="green"))
        lines.append(Text(TIPS, style="dim"))
        self.query_one("#data-tips", Static).update(Text("\n").join(lines))

    training_now = False

    def training_changed(self, running: bool, saved: bool) -> None:
        self.training_now = running
        self.show_tips()

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
            self.undo_step = None  # its samples may have gone with the class: nothing left to undo
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
            trashed = project.delete_sample(path)
        except EarshotError as error:
            self.fail("Cannot delete the sample", error)
            return
        self.undo_step = UndoStep(f"delete of {path.name}", restore=(trashed, path))
        self.notify(f"{path.name} moved to the trash (z undoes)", title="Sample deleted")
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
                self.start_upload(project, None, path, target=names)
            elif answer == "selected":
                self.start_upload(project, info, path)

        self.app.push_screen(ChoiceDialog(
            f"{path.name} was saved by Download Sample from {names}, but {info.name} is selected. "
            "Where should its samples go?", [("own", own), ("selected", f"Into {info.name}")]), answered)

    def start_upload(self, project: Project, info: ClassInfo | None, path: Path, *, target: str = "") -> None:
        self.notify(f"Importing {path.name}...", title="Upload", timeout=3)
        self.upload(project, info, path, target or (info.name if info else "the project"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="upload", description="Upload")
    def upload(self, project: Project, info: ClassInfo | None, path: Path, target: str) -> None:
        from core.ingest import import_samples
        from core.undo import sample_set

        cancel = get_current_worker().cancelled_event
        try:
            before = sample_set(project)
            report = import_samples(project, [path], class_name=info.name if info else None, cancel=cancel)
            added = sorted(sample_set(project) - before)
        except EarshotError as error:
            self.post_message(ActionFailed("Upload failed", error))
            return
        self.post_message(SamplesImported(target, report.total, report.summary(), added))

    def on_samples_imported(self, message: SamplesImported) -> None:
        if message.paths:
            self.undo_step = UndoStep(f"upload of {len(message.paths)} samples", trash=list(message.paths))
        undo = " (z undoes)" if message.paths else ""
        self.notify(message.summary + undo, title=f"Upload into {message.class_name}")
        self.changed(f"imported {message.added}")

    def action_undo(self) -> None:
        """Undo the last sample delete or upload (once)."""
        from core.undo import restore_sample, trash_samples

        project, step = self.project, self.undo_step
        if project is None or step is None:
            self.notify("Nothing to undo: z undoes the last sample delete or upload.", title="Undo")
            return
        self.undo_step = None
        try:
            if step.restore is not None:
                restore_sample(project, *step.restore)
            else:
                trash_samples(project, step.trash)
        except EarshotError as error:
            self.fail("Cannot undo", error)
            return
        self.notify(f"Undid the {step.what}.", title="Undo")
        self.changed(f"undid the {step.what}")

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
