"""Train tab: Advanced Settings, Train Model in a worker, live per-epoch charts, and the reading."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Collapsible, DataTable, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from core.errors import EarshotError, TrainingError
from core.project import Project
from core.spec import TrainSpec
from tui.messages import (
    ActionFailed,
    EpochEnded,
    MistakesFound,
    TrainingFailed,
    TrainingFinished,
    TrainingStateChanged,
    TrainingStatus,
    poster,
)
from tui.reading import read_confusion, read_curves, suggested_epochs
from tui.screens.base import ProjectTab
from tui.widgets.charts import ChartLegend, MetricChart
from tui.widgets.confusion import ConfusionMatrix

DEFAULTS = TrainSpec()
MAX_EPOCHS = DEFAULTS.recommended_max_epochs


@dataclass(frozen=True)
class Setting:
    """One Advanced Settings field: the TrainSpec key it sets, how it is read, and its bounds."""

    key: str
    label: str
    parse: Callable[[str], Any]
    low: float
    high: float
    kind: str  # the Input type: "integer" or "number"
    rule: str  # how the bounds read in an error

    @property
    def field_id(self) -> str:
        return self.key.replace("_", "-")

    def default(self) -> Any:
        return getattr(DEFAULTS, self.key)


# The form, in order; another setting is one more line here (and one more TrainSpec field).
SETTINGS: tuple[Setting, ...] = (
    Setting("epochs", "Epochs", int, 1, MAX_EPOCHS, "integer", f"a whole number from 1 to {MAX_EPOCHS}"),
    Setting("batch_size", "Batch size", int, 1, 512, "integer", "a whole number from 1 to 512"),
    Setting("learning_rate", "Learning rate", float, 1e-6, 1.0, "number", "a number above 0 up to 1, "
            "e.g. 0.001"),
)


def parse_settings(values: dict[str, str], base: TrainSpec, model: str | None = None) -> TrainSpec:
    """The Advanced Settings fields (key -> text; blank = the default shown) and the model kind over
    `base`'s other settings, or a TrainingError naming the field that is out of range."""
    chosen: dict[str, Any] = {"model": model or base.model}
    for setting in SETTINGS:
        text = values.get(setting.key, "").strip()
        if not text:
            chosen[setting.key] = setting.default()
            continue
        try:
            value = setting.parse(text)
        except ValueError:
            value = None
        if value is None or not setting.low <= value <= setting.high:
            raise TrainingError(f"{setting.label} {text!r} is not {setting.rule}",
                                "change it under Advanced Settings (s), or clear it for the default")
        chosen[setting.key] = value
    return TrainSpec.from_dict({**base.to_dict(), **chosen})


MODEL_KINDS = [("auto (chosen per project)", "auto"), ("speech (pretrained)", "speech"),
               ("music (pretrained)", "music"), ("speech+music", "speech+music"),
               ("small (fits a microcontroller)", "small")]


def choice_line(kind: str, choice: dict[str, Any] | None) -> str:
    """'Model: speech (auto: speech 0.97, music 0.61, speech+music 0.96)' for the status area."""
    if not choice:
        return f"Model: {kind}"
    scores = ", ".join(f"{k} {v:.2f}" for k, v in choice.get("scores", {}).items())
    return f"Model: {kind} (auto: {scores or choice.get('reason', '')})"


class TrainPane(ProjectTab):
    TITLE = "Train"
    TAB_ID = "train"
    KEY = "3"
    DEFAULT_FOCUS = ("#train-btn", "#cancel-btn")
    BINDINGS = [
        Binding("t", "train", "Train", tooltip="Train Model with the Advanced Settings"),
        Binding("c", "cancel", "Cancel", tooltip="Cancel training (the saved model stays)"),
        Binding("s", "settings", "Settings",
                tooltip="Advanced Settings: model, epochs, batch size, learning rate"),
        Binding("l", "learn_more", "Learn More", tooltip="Learn More: the reading and the confusion matrix"),
        Binding("p", "play_mistake", "Play clip", tooltip="Play the selected test clip the model gets wrong"),
        Binding("e", "use_suggested", "Use suggested epochs", show=False,
                tooltip="Use the epochs the reading suggests"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history: list[Any] = []
        self._warmed = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="train-scroll"):
            with Collapsible(title="Advanced Settings (s)", id="settings", collapsed=True):
                with Horizontal(classes="form-row compact-row", id="settings-form"):
                    for setting in SETTINGS:
                        yield Label(setting.label)
                        yield Input(placeholder=f"{setting.default():g}", id=setting.field_id,
                                    type=setting.kind, classes="setting", compact=True)
                with Horizontal(classes="form-row compact-row"):
                    yield Label("Model")
                    yield Select(MODEL_KINDS, value=DEFAULTS.model, allow_blank=False, id="model-kind",
                                 compact=True)
                yield Static(f"Blank fields use the defaults shown. An epoch shows every training sample "
                             f"once; 1 to {MAX_EPOCHS} epochs. Enter trains.", classes="dim")
            with Horizontal(classes="button-row"):
                yield Button("Train Model", variant="primary", id="train-btn", classes="compact")
                yield Button("Cancel", id="cancel-btn", classes="compact", disabled=True)
            yield Static("", id="train-status")
            yield Static("", id="model-choice", classes="dim")
            yield ProgressBar(total=1, id="train-progress", show_eta=False)
            yield ChartLegend()
            with Horizontal(id="charts"):
                yield MetricChart("Accuracy per epoch", unit_range=True, id="accuracy-chart")
                yield MetricChart("Loss per epoch", unit_range=False, id="loss-chart")
            yield Static("", id="reading")
            yield ConfusionMatrix(id="confusion")
            yield Static("", id="mistakes-title", classes="section")
            yield DataTable(id="mistakes", cursor_type="row", classes="hidden")

    def shown(self) -> None:
        self.warm_up()

    def show_project(self, project: Project | None) -> None:
        super().show_project(project)
        if project is None:
            return
        spec = project.train_spec
        for setting in SETTINGS:
            value = getattr(spec, setting.key)
            self.query_one(f"#{setting.field_id}", Input).value = (
                "" if value == setting.default() else f"{value:g}")
        if spec.model in {kind for _, kind in MODEL_KINDS}:
            self.query_one("#model-kind", Select).value = spec.model
        self.show_saved_model(project)

    def saved_metadata(self, project: Project) -> dict[str, Any] | None:
        try:
            data = json.loads((project.models_dir / "latest" / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def show_saved_model(self, project: Project, *, note: str = "") -> None:
        """Charts, matrix and reading of the model already in the project (if any)."""
        metadata = self.saved_metadata(project)
        status = self.query_one("#train-status", Static)
        if metadata is None:
            self.reset_charts(1)
            self.show_results([], [])
            self.show_mistakes([])
            status.update(note or "No model yet: press t to Train Model.")
            self.query_one("#model-choice", Static).update("")
            return
        history = metadata.get("history", [])
        self.reset_charts(int(metadata.get("train", {}).get("epochs", len(history)) or 1))
        self.query_one("#train-progress", ProgressBar).update(total=max(1, len(history)),
                                                               progress=len(history))
        for item in history:
            self.add_epoch(item)
        metrics = metadata.get("metrics", {})
        self.show_results(metadata.get("labels", []), metadata.get("confusion", []),
                          train_accuracy=metrics.get("train_accuracy"),
                          test_accuracy=metrics.get("test_accuracy"))
        self.find_mistakes(project)
        accuracy = metrics.get("test_accuracy")
        done = f"test accuracy {accuracy:.0%}" if isinstance(accuracy, float) else "trained"
        status.update(f"{note}Saved model: {done}, {len(history)} epochs. Learn More: l."
                      + self.out_of_date(project))
        model = metadata.get("model", {})
        line = choice_line(model.get("kind", "small"), model.get("choice"))
        self.query_one("#model-choice", Static).update(line)

    def out_of_date(self, project: Project) -> str:
        from core.keep import model_out_of_date

        reason = model_out_of_date(project)
        return f"\n[yellow]The model is out of date: {reason}. Press t to train again.[/]" if reason else ""

    def project_changed(self) -> None:
        if self.project is not None and not self.training:
            self.show_saved_model(self.project)

    # -- TensorFlow warm-up -----------------------------------------------------------------

    def warm_up(self) -> None:
        """Import TensorFlow in the background the first time the tab is shown."""
        if not self._warmed and self.services.prewarm:
            self._warmed = True
            self.import_tensorflow()

    @work(thread=True, exclusive=True, exit_on_error=False, group="warm-up", description="Load TensorFlow")
    def import_tensorflow(self) -> None:
        from core.model import configure_tensorflow

        configure_tensorflow()  # importing is the point: the first training then starts sooner

    # -- training ---------------------------------------------------------------------------

    def action_settings(self) -> None:
        settings = self.query_one("#settings", Collapsible)
        settings.collapsed = not settings.collapsed
        if not settings.collapsed:
            self.call_after_refresh(self.query_one(f"#{SETTINGS[0].field_id}", Input).focus)
        else:
            self.focus_default()

    def action_learn_more(self) -> None:
        """Bring the reading and the confusion matrix into view (again: back to the charts)."""
        reading = self.query_one("#reading", Static)
        scroll = self.query_one("#train-scroll", VerticalScroll)
        if not self.query_one(ConfusionMatrix).labels:
            self.notify("Train a model first (t): Learn More then explains its charts and shows which "
                        "classes it confuses.", title="Learn More")
            return
        if scroll.scroll_y >= reading.virtual_region.y - 1 and scroll.scroll_y > 0:
            scroll.scroll_home(animate=False)
        else:
            scroll.scroll_to_widget(reading, animate=False, top=True)

    def action_use_suggested(self) -> None:
        best = suggested_epochs(self.history)
        if best is None:
            self.notify("The reading suggests no other number of epochs.", title="Epochs")
            return
        self.query_one("#epochs", Input).value = str(best)
        self.query_one("#settings", Collapsible).collapsed = False
        self.notify(f"Epochs set to {best}: press t to train again.", title="Epochs")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Dim the keys that do nothing now (Train while training, Cancel while idle)."""
        if action == "train":
            return None if self.training else True  # None: shown dimmed, and does nothing
        if action == "cancel":
            return True if self.training else None
        return True

    @property
    def training(self) -> bool:
        return any(w.group == "train" and not w.is_finished for w in self.workers)

    @on(Button.Pressed, "#train-btn")
    @on(Input.Submitted, ".setting")
    def action_train(self) -> None:
        project = self.need_project()
        if project is None or self.training:
            return
        try:
            values = {s.key: self.query_one(f"#{s.field_id}", Input).value for s in SETTINGS}
            kind = self.query_one("#model-kind", Select).value
            spec = parse_settings(values, base=project.train_spec,
                                  model=kind if isinstance(kind, str) else None)
            if spec != project.train_spec:
                project.set_train_spec(spec)
        except EarshotError as error:
            self.fail("Training settings", error)
            return
        self.reset_charts(spec.epochs)
        self.show_results([], [])
        self.show_mistakes([])
        self.query_one("#train-progress", ProgressBar).update(total=spec.epochs, progress=0)
        self.query_one("#train-btn", Button).disabled = True
        self.query_one("#cancel-btn", Button).disabled = False
        self.query_one("#train-status", Static).update("Starting...")
        self.query_one("#model-choice", Static).update("")
        self.focus_if_active("#cancel-btn")
        self.run_training(project, spec)
        self.post_message(TrainingStateChanged(running=True))
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", description="Train Model")
    def run_training(self, project: Project, spec: TrainSpec) -> None:
        from core.train import TrainingCancelled, train

        cancel = get_current_worker().cancelled_event
        try:
            result = train(project, spec, cancel=cancel,
                           on_epoch=poster(self, EpochEnded), on_status=poster(self, TrainingStatus))
        except TrainingCancelled:
            self.post_message(TrainingFinished(None, cancelled=True))
            return
        except EarshotError as error:
            self.post_message(TrainingFailed(error))
            return
        self.post_message(TrainingFinished(result))

    def action_cancel(self) -> None:
        if not self.training:
            self.notify("Nothing to cancel: no training is running.", title="Cancel")
            return
        for worker in self.workers:
            if worker.group == "train":
                worker.cancel()
        self.query_one("#train-status", Static).update("Cancelling after this batch...")

    @on(Button.Pressed, "#cancel-btn")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def on_training_status(self, message: TrainingStatus) -> None:
        if message.text.startswith("auto chose"):
            self.query_one("#model-choice", Static).update(f"Model: {message.text}")
        if not self.history:
            self.query_one("#train-status", Static).update(message.text)

    def on_epoch_ended(self, message: EpochEnded) -> None:
        m = message.metrics
        self.add_epoch(m)
        self.query_one("#train-progress", ProgressBar).update(total=m.epochs, progress=m.epoch)
        self.query_one("#train-status", Static).update(
            f"Epoch {m.epoch}/{m.epochs}, running figures: accuracy train {m.train_accuracy:.0%} "
            f"test {m.test_accuracy:.0%}, loss train {m.train_loss:.2f} test {m.test_loss:.2f}")

    def training_ended(self, *, saved: bool = False) -> None:
        self.post_message(TrainingStateChanged(running=False, saved=saved))
        self.refresh_bindings()
        self.query_one("#train-btn", Button).disabled = False
        self.query_one("#cancel-btn", Button).disabled = True
        self.focus_if_active("#train-btn")

    def on_training_finished(self, message: TrainingFinished) -> None:
        self.training_ended(saved=not message.cancelled and message.result is not None)
        if message.cancelled or message.result is None:
            if self.project is not None:
                self.show_saved_model(self.project, note="Training cancelled; the saved model is unchanged. ")
            return
        result = message.result
        self.query_one("#train-status", Static).update(
            f"Done: {result.epochs} epochs in {result.seconds:.0f} s. Saved model: test accuracy "
            f"{result.test_accuracy:.0%}, train {result.train_accuracy:.0%}. Learn More: l.")
        self.show_results(result.labels, result.evaluation.confusion, warnings=list(result.warnings),
                          train_accuracy=result.train_accuracy, test_accuracy=result.test_accuracy)
        self.show_mistakes(list(result.evaluation.mistakes))
        self.query_one("#model-choice", Static).update(choice_line(result.kind, result.choice))
        self.notify(f"Test accuracy {result.test_accuracy:.0%}. Try it on the Validate tab (4).",
                    title="Model trained")

    def worker_crashed(self, worker: Any) -> None:
        if worker.group == "train":
            self.training_ended()
            if self.project is not None:
                self.show_saved_model(self.project, note="[red]Training failed[/] (see the message). ")

    def on_training_failed(self, message: TrainingFailed) -> None:
        self.training_ended()
        if self.project is not None:
            self.show_saved_model(self.project, note=f"[red]Training failed:[/] {message.error.message}. ")
        self.fail("Training failed", message.error)

    # -- the test clips the model gets wrong -------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="mistakes", description="Evaluate")
    def find_mistakes(self, project: Project) -> None:
        from core.evaluate import evaluate_project

        try:
            evaluation = evaluate_project(project.root)
        except EarshotError:
            return  # no usable model or test split: nothing to list
        self.post_message(MistakesFound(list(evaluation.mistakes)))

    def on_mistakes_found(self, message: MistakesFound) -> None:
        if not self.training:
            self.show_mistakes(message.mistakes)

    def show_mistakes(self, mistakes: list[Any]) -> None:
        """One row per wrong test clip (core.evaluate.Mistake): p plays the selected one."""
        table = self.query_one("#mistakes", DataTable)
        title = self.query_one("#mistakes-title", Static)
        table.clear(columns=True)
        table.set_class(not mistakes, "hidden")
        if not mistakes:
            title.update("")
            return
        title.update(f"Test clips the model gets wrong ({len(mistakes)}): select one, p plays it")
        table.add_columns("Clip", "Is", "Taken for", "Sure")
        for mistake in mistakes:
            table.add_row(Path(mistake.file).name, mistake.label, mistake.predicted,
                          f"{mistake.confidence:.0%}", key=mistake.file)

    def action_play_mistake(self) -> None:
        table = self.query_one("#mistakes", DataTable)
        if self.project is None or not table.row_count:
            self.notify("No wrong test clips to play: train a model first (t).", title="Play clip")
            return
        if not table.has_focus:
            table.focus()
        file = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.notify(f"Playing {Path(file).name}...", title="Play clip", timeout=2)
        self.play_clip(self.project.root / file, self.project.audio.sample_rate)

    @work(thread=True, exclusive=True, exit_on_error=False, group="play", description="Play clip")
    def play_clip(self, path: Path, sample_rate: int) -> None:
        from tui.playback import play_file

        try:
            play_file(path, sample_rate)
        except EarshotError as error:
            self.post_message(ActionFailed("Cannot play the clip", error))

    # -- charts and results -----------------------------------------------------------------

    def reset_charts(self, epochs: int) -> None:
        self.history = []
        self.query_one("#accuracy-chart", MetricChart).reset(epochs)
        self.query_one("#loss-chart", MetricChart).reset(epochs)

    def add_epoch(self, metrics: Any) -> None:
        get = (lambda k: metrics[k]) if isinstance(metrics, dict) else (lambda k: getattr(metrics, k))
        self.history.append(metrics)
        self.query_one("#accuracy-chart", MetricChart).add_point(get("epoch"), get("train_accuracy"),
                                                                 get("test_accuracy"))
        self.query_one("#loss-chart", MetricChart).add_point(get("epoch"), get("train_loss"),
                                                             get("test_loss"))

    def show_results(self, labels: list[str], confusion: list[list[int]], *,
                     warnings: list[str] | None = None, train_accuracy: float | None = None,
                     test_accuracy: float | None = None) -> None:
        reading = self.query_one("#reading", Static)
        self.query_one(ConfusionMatrix).show(labels, confusion)
        if not labels:
            reading.update("")
            return
        lines = (read_curves(self.history, train_accuracy=train_accuracy, test_accuracy=test_accuracy)
                 + read_confusion(labels, confusion) + (warnings or []))
        headline = "Learn More"
        if isinstance(test_accuracy, float) and isinstance(train_accuracy, float):
            headline += (f": the saved model has test accuracy {test_accuracy:.0%}, "
                         f"train {train_accuracy:.0%} (the charts show per-epoch running figures)")
        reading.update(headline + "\n" + "\n".join(f"• {line[0].upper()}{line[1:]}" for line in lines))
