"""Train tab: Advanced Settings, Train Model in a worker, live per-epoch charts, and the reading."""

from __future__ import annotations

import json
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Collapsible, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from core.errors import EarshotError, TrainingError
from core.project import Project
from core.spec import TrainSpec
from tui.messages import EpochEnded, TrainingFailed, TrainingFinished, TrainingStatus, poster
from tui.reading import read_confusion, read_curves
from tui.screens.base import ProjectTab
from tui.widgets.charts import MetricChart
from tui.widgets.confusion import ConfusionMatrix

DEFAULTS = TrainSpec()
MODEL_KINDS = [("auto (chosen per project)", "auto"), ("speech (pretrained)", "speech"),
               ("music (pretrained)", "music"), ("speech+music", "speech+music"),
               ("small (fits a microcontroller)", "small")]


def choice_line(kind: str, choice: dict[str, Any] | None) -> str:
    """'Model: speech (auto: speech 0.97, music 0.61, speech+music 0.96)' for the status area."""
    if not choice:
        return f"Model: {kind}"
    scores = ", ".join(f"{k} {v:.2f}" for k, v in choice.get("scores", {}).items())
    return f"Model: {kind} (auto: {scores or choice.get('reason', '')})"


def parse_settings(epochs: str, batch: str, rate: str, base: TrainSpec,
                   model: str | None = None) -> TrainSpec:
    """The Advanced Settings fields (blank = keep `base`) as a TrainSpec, or a TrainingError."""
    try:
        return TrainSpec.from_dict({
            **base.to_dict(),
            "model": model or base.model,
            "epochs": int(epochs) if epochs.strip() else base.epochs,
            "batch_size": int(batch) if batch.strip() else base.batch_size,
            "learning_rate": float(rate) if rate.strip() else base.learning_rate,
        })
    except ValueError as exc:
        raise TrainingError(f"a training setting is not a number ({exc})",
                            "epochs and batch size are whole numbers, the learning rate e.g. 0.001") from exc


class TrainPane(ProjectTab):
    TITLE = "Train"
    TAB_ID = "train"
    DEFAULT_FOCUS = "#train-btn"
    BINDINGS = [
        Binding("t", "train", "Train Model"),
        Binding("c", "cancel", "Cancel training"),
        Binding("s", "settings", "Advanced Settings"),
        Binding("l", "learn_more", "Learn More"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Any] = []
        self._warmed = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="train-scroll"):
            with Collapsible(title="Advanced Settings", id="settings", collapsed=True):
                with Horizontal(classes="form-row"):
                    yield Label("Epochs")
                    yield Input(placeholder=str(DEFAULTS.epochs), id="epochs", type="integer")
                    yield Label("Batch size")
                    yield Input(placeholder=str(DEFAULTS.batch_size), id="batch", type="integer")
                    yield Label("Learning rate")
                    yield Input(placeholder=f"{DEFAULTS.learning_rate:g}", id="rate", type="number")
                with Horizontal(classes="form-row"):
                    yield Label("Model")
                    yield Select(MODEL_KINDS, value=DEFAULTS.model, allow_blank=False, id="model-kind")
                yield Static(f"Defaults: {DEFAULTS.epochs} epochs, batch {DEFAULTS.batch_size}, rate "
                             f"{DEFAULTS.learning_rate:g}. An epoch shows every training sample once; "
                             f"up to {DEFAULTS.recommended_max_epochs} helps. Enter trains.", classes="dim")
            with Horizontal(classes="button-row"):
                yield Button("Train Model", variant="primary", id="train-btn", classes="compact")
                yield Button("Cancel", id="cancel-btn", classes="compact", disabled=True)
            yield Static("", id="train-status")
            yield Static("", id="model-choice", classes="dim")
            yield ProgressBar(total=1, id="train-progress", show_eta=False)
            with Horizontal(id="charts"):
                yield MetricChart("Accuracy per epoch", unit_range=True, id="accuracy-chart")
                yield MetricChart("Loss per epoch", unit_range=False, id="loss-chart")
            yield Static("", id="reading")
            yield ConfusionMatrix(id="confusion")

    def shown(self) -> None:
        self.warm_up()

    def show_project(self, project: Project | None) -> None:
        if project is None:
            return
        spec = project.train_spec
        fields = (("#epochs", spec.epochs, DEFAULTS.epochs), ("#batch", spec.batch_size, DEFAULTS.batch_size),
                  ("#rate", spec.learning_rate, DEFAULTS.learning_rate))
        for field, value, default in fields:
            self.query_one(field, Input).value = "" if value == default else f"{value:g}"
        if spec.model in {kind for _, kind in MODEL_KINDS}:
            self.query_one("#model-kind", Select).value = spec.model
        self.show_saved_model(project)

    def show_saved_model(self, project: Project) -> None:
        """Charts, matrix and reading of the model already in the project (if any)."""
        path = project.models_dir / "latest" / "metadata.json"
        try:
            metadata = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.query_one("#train-status", Static).update("No model yet: press t to Train Model.")
            return
        history = metadata.get("history", [])
        self.reset_charts(int(metadata.get("train", {}).get("epochs", len(history)) or 1))
        for item in history:
            self.add_epoch(item)
        self.show_results(metadata.get("labels", []), metadata.get("confusion", []))
        accuracy = metadata.get("metrics", {}).get("test_accuracy")
        done = f"test accuracy {accuracy:.0%}" if isinstance(accuracy, float) else "trained"
        self.query_one("#train-status", Static).update(f"Saved model: {done}, {len(history)} epochs.")
        model = metadata.get("model", {})
        line = choice_line(model.get("kind", "small"), model.get("choice"))
        self.query_one("#model-choice", Static).update(line)

    # -- TensorFlow warm-up -----------------------------------------------------------------

    def warm_up(self) -> None:
        """Import TensorFlow in the background the first time the tab is shown."""
        if not self._warmed and self.earshot.prewarm:
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
            self.call_after_refresh(self.query_one("#epochs", Input).focus)

    def action_learn_more(self) -> None:
        self.query_one("#charts").scroll_visible()
        self.query_one("#accuracy-chart").focus()

    @property
    def training(self) -> bool:
        return any(w.group == "train" and w.is_running for w in self.workers)

    @on(Button.Pressed, "#train-btn")
    @on(Input.Submitted, "#epochs, #batch, #rate")
    def action_train(self) -> None:
        project = self.need_project()
        if project is None or self.training:
            return
        try:
            epochs, batch, rate = (self.query_one(f, Input).value for f in ("#epochs", "#batch", "#rate"))
            kind = self.query_one("#model-kind", Select).value
            spec = parse_settings(epochs, batch, rate, base=project.train_spec,
                                  model=kind if isinstance(kind, str) else None)
            if spec != project.train_spec:
                project.set_train_spec(spec)
        except EarshotError as error:
            self.fail("Training settings", error)
            return
        self.history = []
        self.reset_charts(spec.epochs)
        self.show_results([], [])
        self.query_one("#train-progress", ProgressBar).update(total=spec.epochs, progress=0)
        self.query_one("#train-btn", Button).disabled = True
        self.query_one("#cancel-btn", Button).disabled = False
        self.query_one("#train-status", Static).update("Starting...")
        self.query_one("#model-choice", Static).update("")
        self.query_one("#cancel-btn", Button).focus()
        self.run_training(project, spec)

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
        for worker in self.workers:
            if worker.group == "train":
                worker.cancel()
        if self.training:
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
        metrics = message.metrics
        self.add_epoch(metrics)
        self.query_one("#train-progress", ProgressBar).update(total=metrics.epochs, progress=metrics.epoch)
        self.query_one("#train-status", Static).update(
            f"Epoch {metrics.epoch}/{metrics.epochs}  acc {metrics.train_accuracy:.2f}  "
            f"test acc {metrics.test_accuracy:.2f}  loss {metrics.train_loss:.2f}  "
            f"test loss {metrics.test_loss:.2f}  {metrics.seconds:.1f} s")

    def on_training_finished(self, message: TrainingFinished) -> None:
        self.query_one("#train-btn", Button).disabled = False
        self.query_one("#train-btn", Button).focus()
        self.query_one("#cancel-btn", Button).disabled = True
        status = self.query_one("#train-status", Static)
        if message.cancelled or message.result is None:
            status.update("Training cancelled; the previous model is unchanged.")
            return
        result = message.result
        status.update(f"Done: {result.epochs} epochs in {result.seconds:.0f} s, test accuracy "
                      f"{result.test_accuracy:.0%}, train accuracy {result.train_accuracy:.0%}.")
        self.query_one("#model-choice", Static).update(choice_line(result.kind, result.choice))
        self.show_results(result.labels, result.evaluation.confusion, warnings=list(result.warnings))
        self.notify(f"Test accuracy {result.test_accuracy:.0%}. Try it on the Validate tab (4).",
                    title="Model trained")

    def on_training_failed(self, message: TrainingFailed) -> None:
        self.query_one("#train-btn", Button).disabled = False
        self.query_one("#cancel-btn", Button).disabled = True
        self.query_one("#train-status", Static).update(f"[red]Training failed:[/] {message.error.message}")
        self.fail("Training failed", message.error)

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
                     warnings: list[str] | None = None) -> None:
        reading = self.query_one("#reading", Static)
        self.query_one(ConfusionMatrix).show(labels, confusion)
        if not labels:
            reading.update("")
            return
        lines = read_curves(self.history) + read_confusion(labels, confusion) + (warnings or [])
        reading.update("\n".join(f"• {line[0].upper()}{line[1:]}" for line in lines))
