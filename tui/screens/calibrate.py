"""Calibrate dialog (Validate tab): replay a test stream, show the curve and the recommended setting.

The calibration runs in this dialog's worker with its own copy of the model (never the listening
one), reports progress, and dismisses with the result when the user presses Apply (None otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, ProgressBar, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from core.errors import EarshotError
from core.project import Project
from tui.hints import app_hint

MINUTES = 10.0
SHOWN_MISS = 0.6  # settings that miss more than this are off the chart (it keeps the useful part readable)


@dataclass
class CalibrationProgressed(Message):
    stage: str
    fraction: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CalibrationProgressed)


@dataclass
class CalibrationFinished(Message):
    result: Any  # core.calibrate.Calibration, or None on failure
    error: EarshotError | None = None


class CurveChart(PlotextPlot):
    """Misses against false activations per hour: one line per smoothing, drawn with its digit (each
    point a threshold), the recommendation as @."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result: Any = None

    def show(self, result: Any) -> None:
        self.result = result
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.xlabel("false alarms/hour   (digit: smoothing, @: recommended)")
        plt.ylabel("% missed")
        if self.result is not None:
            for smooth in sorted({o.smooth for o in self.result.curve}):
                points = sorted((o.false_per_hour, 100 * o.miss_rate) for o in self.result.curve
                                if o.smooth == smooth and o.miss_rate <= SHOWN_MISS)
                if points:
                    plt.plot([p[0] for p in points], [p[1] for p in points], marker=str(smooth % 10))
            rec = self.result.recommended
            plt.scatter([rec.false_per_hour], [100 * rec.miss_rate], marker="@", color="red")
        self.refresh()


def describe(outcome: Any) -> str:
    delay = "-" if outcome.delay_ms is None else f"{outcome.delay_ms:.0f} ms"
    return (f"threshold {outcome.threshold:<4g} smoothing {outcome.smooth}: {outcome.false_per_hour:3.0f} "
            f"false/h, {outcome.miss_rate:3.0%} missed, {delay}")


class CalibrateDialog(ModalScreen[Any]):
    """Calibrate on a stream; Apply (a) returns the result, Esc closes without changing anything."""

    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("escape", "close", "Close"),
    ]
    DEFAULT_CSS = """
    CalibrateDialog .dialog { height: 100%; }
    CalibrateDialog CurveChart { height: 1fr; min-height: 6; }
    CalibrateDialog #calibrate-result { height: auto; }
    CalibrateDialog ProgressBar { width: 100%; }
    """

    def __init__(self, project: Project, minutes: float | None = None) -> None:
        super().__init__()
        self.project, self.minutes = project, minutes if minutes is not None else MINUTES
        self.result: Any = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Calibrate: a {self.minutes:g}-minute stream of the test clips over Background "
                        "Noise", classes="dialog-title")
            yield ProgressBar(total=1.0, show_eta=False, id="calibrate-progress")
            yield CurveChart(id="calibrate-curve")
            yield Static("Building the stream...", id="calibrate-result")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply (a)", variant="primary", id="apply", disabled=True)
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()
        self.calibrate()

    @work(thread=True, exclusive=True, exit_on_error=False, group="calibrate", description="Calibrate")
    def calibrate(self) -> None:
        from core.calibrate import calibrate_project

        cancel = get_current_worker().cancelled_event
        def progress(stage: str, fraction: float) -> None:
            self.post_message(CalibrationProgressed(stage, fraction))

        try:
            result = calibrate_project(self.project, minutes=self.minutes, save=False, cancel=cancel,
                                       on_progress=progress)
        except EarshotError as error:
            self.post_message(CalibrationFinished(None, error))
            return
        self.post_message(CalibrationFinished(result))

    def on_calibration_progressed(self, message: CalibrationProgressed) -> None:
        # Scoring the windows is most of the work; replaying the settings the rest.
        done = 0.8 * message.fraction if message.stage == "scoring" else 0.8 + 0.2 * message.fraction
        self.query_one(ProgressBar).update(progress=done)
        self.query_one("#calibrate-result", Static).update(f"{message.stage.capitalize()}...")

    def on_calibration_finished(self, message: CalibrationFinished) -> None:
        text = self.query_one("#calibrate-result", Static)
        if message.result is None:
            error = message.error
            text.update(f"[red]Cannot calibrate:[/] {error.message if error else 'failed'}"
                        + (f"\n{app_hint(error.hint)}" if error and error.hint else ""))
            return
        self.result = result = message.result
        self.query_one(ProgressBar).update(progress=1.0)
        self.query_one(CurveChart).show(result)
        text.update(f"[dim]{result.sounds} sounds in {result.stream_seconds / 60:.0f} min ("
                    f"{result.seconds_taken:.0f} s). Fewest false alarms that miss at most 3 points "
                    "more than the default.[/]\n"
                    f"Now          {describe(result.current)}\n"
                    f"[b]Recommended[/]  {describe(result.recommended)}")
        apply = self.query_one("#apply", Button)
        apply.disabled = False
        apply.focus()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        if self.result is not None:
            self.dismiss(self.result)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        for worker in self.workers:
            worker.cancel()
        self.dismiss(None)
