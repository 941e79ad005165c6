"""The Data map (Data tab, `v`): every sample in 2-D, one marker per class, and the suspects to check.

Selecting a suspect and pressing Enter or p plays it; Delete moves it to the project's trash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static
from textual_plotext import PlotextPlot

from core.errors import AudioError, EarshotError
from core.project import Project
from tui.messages import ProjectChanged

MARKERS = "ox+*#%&$"


@dataclass
class DataMapBuilt(Message):
    data_map: Any  # core.datamap.DataMap, or None on failure
    error: EarshotError | None = None


class MapChart(PlotextPlot):
    """The samples' 2-D positions, one marker per class (the legend names them)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_map: Any = None

    def show(self, data_map: Any) -> None:
        self.data_map = data_map
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.xticks([])
        plt.yticks([])
        if self.data_map is not None:
            for n, label in enumerate(self.data_map.labels):
                xy = [(p.x, p.y) for p in self.data_map.points if p.label == label]
                if xy:
                    plt.scatter([x for x, _ in xy], [y for _, y in xy], marker=MARKERS[n % len(MARKERS)],
                                label=label)
        self.refresh()


class DataMapScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("p,enter", "play", "Play suspect"),
        Binding("delete", "delete", "Move to trash"),
    ]
    DEFAULT_CSS = """
    DataMapScreen .dialog { height: 100%; }
    DataMapScreen MapChart { height: 1fr; min-height: 8; }
    DataMapScreen DataTable { height: 8; }
    DataMapScreen #map-status { height: auto; }
    """

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.data_map: Any = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Data map: samples in 2-D; suspects below (p play, Del trash, Esc close)",
                        classes="dialog-title")
            yield MapChart(id="map-chart")
            yield DataTable(id="suspects", cursor_type="row")
            yield Static("Placing the samples...", id="map-status")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Sample", "Class", "Why")
        table.focus()
        self.build()

    @work(thread=True, exclusive=True, exit_on_error=False, group="map", description="Data map")
    def build(self) -> None:
        from core.datamap import build_map

        try:
            self.post_message(DataMapBuilt(build_map(self.project)))
        except EarshotError as error:
            self.post_message(DataMapBuilt(None, error))

    def on_data_map_built(self, message: DataMapBuilt) -> None:
        status = self.query_one("#map-status", Static)
        if message.data_map is None:
            status.update(f"[red]No map:[/] {message.error.message if message.error else 'failed'}")
            return
        self.data_map = data_map = message.data_map
        self.query_one(MapChart).show(data_map)
        table = self.query_one(DataTable)
        table.clear()
        for suspect in data_map.suspects:
            table.add_row(suspect.path.name, suspect.label, suspect.reason, key=str(suspect.path))
        found = (f"{len(data_map.suspects)} suspects: listen, then delete the wrong ones."
                 if data_map.suspects else "No suspects: every sample sits with its class.")
        status.update(f"{len(data_map.points)} samples ({data_map.source}). {found}")

    def selected(self) -> Path | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return Path(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def action_play(self) -> None:
        path = self.selected()
        if path is not None:
            self.query_one("#map-status", Static).update(f"Playing {path.name}...")
            self.play(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="play", description="Play sample")
    def play(self, path: Path) -> None:
        from core.audio import load
        from core.capture import sounddevice

        rate = self.project.audio.sample_rate
        try:
            sd = sounddevice()
            try:
                sd.play(load(path, rate), rate)
                sd.wait()
            except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error types
                raise AudioError(f"cannot play {path.name}: {exc}", "check the sound output device") from exc
        except EarshotError as error:
            self.app.call_from_thread(self.notify, error.message, title="Play", severity="error")

    def action_delete(self) -> None:
        path = self.selected()
        if path is None:
            return
        try:
            self.project.delete_sample(path)
        except EarshotError as error:
            self.notify(error.message, title="Cannot delete the sample", severity="error")
            return
        self.query_one(DataTable).remove_row(str(path))
        self.query_one("#map-status", Static).update(f"{path.name} moved to the trash.")
        self.post_message(ProjectChanged(f"deleted {path.name}"))

    @on(DataTable.RowSelected)
    def row_chosen(self) -> None:
        self.action_play()

    def action_close(self) -> None:
        self.dismiss(None)
