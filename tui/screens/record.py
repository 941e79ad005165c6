"""Record 20 seconds into one class: microphone picker, countdown, level meter, then Extract."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static
from textual.worker import get_current_worker

from core.errors import EarshotError
from core.levels import QUIET_INPUT_DB
from core.project import ClassInfo, Project
from core.spec import RECORD_SECONDS
from tui.hints import app_hint
from tui.messages import (
    ActionFailed,
    MicrophonesListed,
    ProjectChanged,
    RecordingFinished,
    RecordingTicked,
    SamplesExtracted,
    poster,
)
from tui.screens.base import ReportsWorkerFailures
from tui.services import Services
from tui.widgets.level_meter import LevelMeter
from tui.widgets.microphones import MicrophoneSelect

COUNTDOWN = 3


class RecordDialog(ReportsWorkerFailures, ModalScreen[int]):
    """Returns the number of clips stored (0 when nothing was extracted)."""

    AUTO_FOCUS = "#record-btn"
    BINDINGS = [
        Binding("r", "record", "Record 20 seconds"),
        Binding("s", "stop", "Stop"),
        Binding("e", "extract", "Extract"),
        Binding("escape", "close", "Return"),
    ]

    def __init__(self, project: Project, info: ClassInfo, services: Services, *,
                 seconds: float = RECORD_SECONDS) -> None:
        super().__init__()
        self.project, self.info, self.seconds = project, info, seconds
        self.services = services
        self.audio: Any = None
        self.stored = 0
        self._source: Any = None
        self._monitor_done = threading.Event()
        self._monitor_done.set()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="record"):
            yield Label(f"Record into [b]{self.info.name}[/b]", classes="dialog-title")
            yield MicrophoneSelect(self.services.microphones, id="mic")
            yield LevelMeter(id="meter")
            yield Static(f"Press r to record {self.seconds:g} seconds.", id="record-status")
            yield Static("", id="extract-result")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Record {self.seconds:g} seconds", variant="primary", id="record-btn",
                             classes="compact")
                yield Button("Stop", id="stop-btn", classes="compact", disabled=True)
                yield Button("Extract", id="extract-btn", classes="compact", disabled=True)
                yield Button("Return", id="close-btn", classes="compact")

    def on_mount(self) -> None:
        self.query_one(MicrophoneSelect).ensure_listed()

    @property
    def backend(self) -> Any:
        return self.services.microphones

    # -- microphones ------------------------------------------------------------------------

    def on_microphones_listed(self, message: MicrophonesListed) -> None:
        if message.error is not None:
            self.status(f"[red]{message.error.message}[/] ({app_hint(message.error.hint)})")
        elif not message.microphones:
            self.status("[red]No microphone found.[/] Connect one, or use Upload instead.")
        else:
            self.start_monitor()

    @on(Select.Changed, "#mic")
    def start_monitor(self) -> None:
        """Show the chosen microphone's level before recording (live microphones only: a test
        source replaying a file would be used up by it)."""
        if not getattr(self.backend, "live", False) or self.recording:
            return
        self.stop_monitor()
        self.monitor(self.query_one(MicrophoneSelect).key)

    def stop_monitor(self) -> None:
        for worker in self.workers:
            if worker.group == "monitor":
                worker.cancel()

    @property
    def recording(self) -> bool:
        return any(w.group == "record" and not w.is_finished for w in self.workers)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor", description="Microphone level")
    def monitor(self, key: str | None) -> None:
        """Keep the microphone open and its queue drained so the meter moves; ends when cancelled."""
        cancel = get_current_worker().cancelled_event
        self._monitor_done.clear()
        try:
            source = self.backend.open_microphone(key, self.project.audio.sample_rate)
            source.start()
        except EarshotError as error:
            self._monitor_done.set()
            self.post_message(RecordingFinished(0.0, cancelled=True, silent=True, error=error))
            return
        self._source = source
        self.post_message(RecordingTicked(0.0, self.seconds, countdown=-1))
        try:
            while not cancel.is_set():
                source.read(timeout=0.05)
        except EarshotError:
            pass  # the meter stops; recording will report the problem
        finally:
            self._source = None
            source.stop()
            self._monitor_done.set()

    # -- recording --------------------------------------------------------------------------

    def status(self, text: str) -> None:
        self.query_one("#record-status", Static).update(text)

    @on(Button.Pressed, "#record-btn")
    def action_record(self) -> None:
        if self.workers and any(w.group == "record" and w.is_running for w in self.workers):
            return
        key = self.query_one(MicrophoneSelect).key
        self.query_one("#record-btn", Button).disabled = True
        self.query_one("#stop-btn", Button).disabled = False
        self.query_one("#extract-btn", Button).disabled = True
        self.query_one("#extract-result", Static).update("")
        self.stop_monitor()
        self.record(key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="record", description="Record")
    def record(self, key: str | None) -> None:
        from core.capture import record

        cancel = get_current_worker().cancelled_event
        self._monitor_done.wait(3.0)  # the level monitor lets go of the microphone first
        try:
            source = self.backend.open_microphone(key, self.project.audio.sample_rate)
            source.start()
            self._source = source
            try:
                result = record(
                    source, self.seconds, countdown=COUNTDOWN, cancel=cancel,
                    on_countdown=poster(self, lambda n: RecordingTicked(0.0, self.seconds, n)),
                    on_progress=poster(self, lambda p: RecordingTicked(p.elapsed, self.seconds)),
                )
            finally:
                self._source = None
                source.stop()
        except EarshotError as error:
            self.post_message(RecordingFinished(0.0, cancelled=True, silent=True, error=error))
            return
        silent = result.level.peak_db < QUIET_INPUT_DB
        self.post_message(RecordingFinished(result.seconds, result.cancelled, silent, result.audio))

    def read_level(self) -> Any:
        source = self._source
        return None if source is None else source.level()

    def on_recording_ticked(self, message: RecordingTicked) -> None:
        meter = self.query_one(LevelMeter)
        if message.countdown < 0:  # the monitor opened the microphone
            meter.start(self.read_level)
            if self.audio is None and not self.stored:  # keep "Press e to Extract" and the like
                self.status(f"Press r to record {self.seconds:g} seconds. The meter shows the microphone "
                            "now.")
            return
        if message.countdown:
            self.status(f"Recording starts in {message.countdown}...")
            return
        if not meter.active:
            meter.start(self.read_level)
        left = max(0.0, message.total - message.seconds)
        warning = "  [yellow]the microphone seems silent: is it on and not muted?[/]" if meter.silent else ""
        self.status(f"[b]Recording[/b] {message.seconds:4.1f} s, {left:4.1f} s left{warning}")

    def on_recording_finished(self, message: RecordingFinished) -> None:
        self.query_one(LevelMeter).stop()
        if message.error is None or message.audio is not None:
            self.call_after_refresh(self.start_monitor)
        self.query_one("#record-btn", Button).disabled = False
        self.query_one("#stop-btn", Button).disabled = True
        if message.error is not None:
            hint = f" {app_hint(message.error.hint)}." if message.error.hint else ""
            self.status(f"[red]Recording failed:[/] {message.error.message}.{hint}")
            return
        if message.audio is None or message.seconds <= 0:
            self.status("Nothing was recorded: press r to record.")
            return
        self.audio = message.audio
        self.query_one("#extract-btn", Button).disabled = False
        how = "stopped early" if message.cancelled else "done"
        silent = "  [yellow]it is nearly silent: check the microphone[/]" if message.silent else ""
        self.status(f"Recorded {message.seconds:.1f} s ({how}). Press e to Extract.{silent}")
        self.query_one("#extract-btn", Button).focus()

    @on(Button.Pressed, "#stop-btn")
    def action_stop(self) -> None:
        for worker in self.workers:
            if worker.group == "record":
                worker.cancel()

    # -- extract ----------------------------------------------------------------------------

    @on(Button.Pressed, "#extract-btn")
    def action_extract(self) -> None:
        if self.audio is None:
            return
        self.query_one("#extract-btn", Button).disabled = True
        self.status("Extracting...")
        self.extract(self.audio)

    def extract_failed(self, reason: str) -> None:
        """The recording is kept: say so on the status line, and let e try again."""
        self.query_one("#extract-btn", Button).disabled = self.audio is None
        self.status(f"[red]Extract failed:[/] {escape(reason)}. The recording is kept: e tries again.")

    def worker_crashed(self, worker: Any) -> None:
        if worker.group == "extract":
            self.extract_failed("unexpected error (see the message)")

    @work(thread=True, exclusive=True, exit_on_error=False, group="extract", description="Extract")
    def extract(self, audio: Any) -> None:
        from core.ingest import extract_recording

        try:
            # the clips' names say where they came from: "rec-<month><day>-<time>-<hash>.wav"
            label = time.strftime("rec-%m%d-%H%M%S")
            result = extract_recording(self.project, self.info, audio, label=label)
        except EarshotError as error:
            self.app.call_from_thread(self.extract_failed, error.message)
            self.post_message(ActionFailed("Extract failed", error))
            return
        kept = len(result.clips) - result.duplicates
        self.post_message(SamplesExtracted(self.info.name, kept, dict(result.dropped), result.summary(),
                                           result.recording))

    def on_samples_extracted(self, message: SamplesExtracted) -> None:
        self.post_message(ProjectChanged(f"extracted {message.kept}"))  # the Data tab behind updates now
        self.audio = None
        self.stored += message.kept
        total = self.project.sample_count(self.info)
        need = self.project.min_samples - total
        more = f"; {need} more needed: record again" if need > 0 else ""
        self.query_one("#extract-result", Static).update(
            f"[b]Kept {message.kept}[/b], dropped {sum(message.dropped.values())}: {message.summary}\n"
            f"{self.info.name} now has {total} samples{more}.")
        self.status("Press r to record again, or Esc to return: the Data tab lists the new clips first "
                    "(p plays one, Del discards it, z undoes).")
        self.query_one("#close-btn", Button).focus()

    @on(Button.Pressed, "#close-btn")
    def action_close(self) -> None:
        self.action_stop()
        self.stop_monitor()
        self.dismiss(self.stored)
