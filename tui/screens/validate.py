"""Validate tab: live classification from a microphone, or a file; threshold and smoothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RichLog, Select, Static
from textual.worker import get_current_worker

from core.errors import CaptureError, EarshotError
from core.infer import StreamSettings
from core.project import Project
from tui.messages import (
    ActionFailed,
    DecisionMade,
    FileClassified,
    ListeningStopped,
    MicrophonesListed,
    WindowScored,
)
from tui.screens.base import ProjectTab
from tui.screens.dialogs import PathDialog
from tui.widgets.score_bars import ScoreBars, TopLabel

SECTION = "validate"
DEFAULTS = StreamSettings()


def parse_stream_settings(threshold: str, smoothing: str) -> Any:
    """The form's threshold and smoothing as core.infer.StreamSettings (blank = default)."""
    try:
        return StreamSettings(threshold=float(threshold) if threshold.strip() else DEFAULTS.threshold,
                              smooth_windows=int(smoothing) if smoothing.strip() else DEFAULTS.smooth_windows,
                              hop_seconds=DEFAULTS.hop_seconds)
    except ValueError as exc:
        raise CaptureError(f"threshold or smoothing is not a number ({exc})",
                           "threshold is 0 to 1, smoothing a whole number of windows") from exc


class ValidatePane(ProjectTab):
    TITLE = "Validate"
    TAB_ID = "validate"
    DEFAULT_FOCUS = "#listen-btn"
    BINDINGS = [
        Binding("l", "listen", "Listen"),
        Binding("s", "stop", "Stop"),
        Binding("f", "classify_file", "Classify a file"),
        Binding("m", "focus_field('#validate-mic')", "Microphone"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._classifier: Any = None
        self._classifier_key: Any = None
        self.threshold = DEFAULTS.threshold

    def compose(self) -> ComposeResult:
        with Vertical():
            with Horizontal(classes="form-row"):
                yield Select[str]([], prompt="Microphone", id="validate-mic")
                yield Button("Listen", variant="primary", id="listen-btn", classes="compact")
                yield Button("Stop", id="stop-btn", classes="compact", disabled=True)
                yield Button("Classify a file", id="file-btn", classes="compact")
            with Horizontal(classes="form-row"):
                yield Label("Threshold")
                yield Input(placeholder=f"{DEFAULTS.threshold:g}", id="threshold", type="number")
                yield Label("Smoothing (windows)")
                yield Input(placeholder=str(DEFAULTS.smooth_windows), id="smoothing", type="integer")
            yield TopLabel("—", id="top-label")
            yield ScoreBars(id="scores")
            yield Static("Train a model, then Listen (l) or Classify a file (f).", id="validate-status")
            yield RichLog(id="decisions", max_lines=200)

    def show_project(self, project: Project | None) -> None:
        if project is None:
            return
        saved = project.settings(SECTION)
        self.query_one("#threshold", Input).value = str(saved.get("threshold", ""))
        self.query_one("#smoothing", Input).value = str(saved.get("smooth_windows", ""))
        self._classifier = None

    def shown(self) -> None:
        if not self.query_one("#validate-mic", Select).is_blank() or getattr(self, "_listed", False):
            return
        self._listed = True
        self.list_microphones()

    @work(thread=True, exclusive=True, exit_on_error=False, group="mics", description="List microphones")
    def list_microphones(self) -> None:
        try:
            self.post_message(MicrophonesListed(self.earshot.backend.microphones()))
        except EarshotError as error:
            self.post_message(MicrophonesListed([], error))

    def on_microphones_listed(self, message: MicrophonesListed) -> None:
        select = self.query_one("#validate-mic", Select)
        if message.error is not None:
            self.status(f"No microphone: {message.error.message}. Classify a file (f) instead.")
            return
        select.set_options([(label, key) for key, label in message.microphones])
        if message.microphones:
            select.value = message.microphones[0][0]
        else:
            self.status("No microphone found: connect one, or Classify a file (f).")

    def status(self, text: str) -> None:
        self.query_one("#validate-status", Static).update(text)

    # -- settings and model -----------------------------------------------------------------

    def settings(self, project: Project) -> Any:
        """Read and save the form's stream settings; raises CaptureError on bad values."""
        settings = parse_stream_settings(self.query_one("#threshold", Input).value,
                                         self.query_one("#smoothing", Input).value)
        values = {"threshold": settings.threshold, "smooth_windows": settings.smooth_windows}
        if project.settings(SECTION) != values:
            project.set_settings(SECTION, values)
        self.threshold = settings.threshold
        return settings

    def classifier(self, project: Project) -> Any:
        """The project's classifier, reloaded when the model changed (runs in workers)."""
        from core.classifier import load_classifier

        metadata = project.models_dir / "latest" / "metadata.json"
        key = metadata.stat().st_mtime_ns if metadata.exists() else None
        if self._classifier is None or key != self._classifier_key:
            self._classifier = load_classifier(project.root)
            self._classifier_key = key
        return self._classifier

    # -- live -------------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return any(w.group == "listen" and w.is_running for w in self.workers)

    @on(Button.Pressed, "#listen-btn")
    def action_listen(self) -> None:
        project = self.need_project()
        if project is None or self.listening:
            return
        try:
            settings = self.settings(project)
        except EarshotError as error:
            self.fail("Validate settings", error)
            return
        value = self.query_one("#validate-mic", Select).value
        key = None if value is Select.BLANK else str(value)
        self.query_one("#listen-btn", Button).disabled = True
        self.query_one("#stop-btn", Button).disabled = False
        self.query_one("#decisions", RichLog).clear()
        self.status("Loading the model...")
        self.listen(project, key, settings)

    @work(thread=True, exclusive=True, exit_on_error=False, group="listen", description="Listen")
    def listen(self, project: Project, key: str | None, settings: Any) -> None:
        from core.infer import StreamingClassifier, listen

        cancel = get_current_worker().cancelled_event
        try:
            classifier = self.classifier(project)
            streaming = StreamingClassifier(classifier, settings)
            source = self.earshot.backend.open_microphone(key, classifier.audio.sample_rate)
            source.start()
            try:
                self.post_message(ListeningStopped("started"))

                def on_window(window: Any) -> None:
                    scores = dict(zip(streaming.labels, (float(s) for s in window.smoothed), strict=True))
                    self.post_message(WindowScored(window.time, scores, source.level().rms_db))

                def on_decision(decision: Any) -> None:
                    publisher = getattr(self.app, "publisher", None)
                    if publisher is not None:
                        publisher.publish(decision)
                    self.post_message(DecisionMade(decision))

                summary = listen(source, streaming, cancel=cancel, on_window=on_window,
                                 on_decision=on_decision)
            finally:
                source.stop()
        except EarshotError as error:
            self.post_message(ActionFailed("Listening failed", error))
            self.post_message(ListeningStopped(error.message))
            return
        self.post_message(ListeningStopped(summary.reason, summary.seconds, summary.decisions))

    def on_window_scored(self, message: WindowScored) -> None:
        self.query_one(ScoreBars).show(message.scores, threshold=self.threshold)
        best = max(message.scores, key=lambda k: message.scores[k])
        if message.scores[best] >= self.threshold:
            self.query_one(TopLabel).show(best, message.scores[best])
        self.status(f"Listening: {message.time:6.1f} s, level {message.level_db:4.0f} dB. Stop with s.")

    def on_decision_made(self, message: DecisionMade) -> None:
        decision = message.decision
        self.query_one(TopLabel).show(decision.label, decision.confidence)
        self.query_one("#decisions", RichLog).write(
            f"{decision.time:7.2f} s  {decision.label}  {decision.confidence:.0%}")

    def on_listening_stopped(self, message: ListeningStopped) -> None:
        if message.reason == "started":
            self.status("Listening... play sounds to the microphone. Stop with s.")
            return
        self.query_one("#listen-btn", Button).disabled = False
        self.query_one("#stop-btn", Button).disabled = True
        if message.reason in {"cancelled", "end", "seconds"}:
            self.status(f"Stopped after {message.seconds:.1f} s, {message.decisions} decisions.")
        else:
            self.status(f"Stopped: {message.reason}")

    @on(Button.Pressed, "#stop-btn")
    def action_stop(self) -> None:
        for worker in self.workers:
            if worker.group == "listen":
                worker.cancel()

    # -- a file -----------------------------------------------------------------------------

    @on(Button.Pressed, "#file-btn")
    def action_classify_file(self) -> None:
        project = self.need_project()
        if project is None:
            return

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.status(f"Classifying {path.name}...")
                self.classify_file(project, path)

        self.app.push_screen(PathDialog("Classify a file (audio)", Path.cwd()), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="file", description="Classify a file")
    def classify_file(self, project: Project, path: Path) -> None:
        from core.audio import load

        try:
            classifier = self.classifier(project)
            prediction = classifier.predict(load(path, classifier.audio.sample_rate))
        except EarshotError as error:
            self.post_message(ActionFailed("Cannot classify the file", error))
            return
        self.post_message(FileClassified(path, prediction))

    def on_file_classified(self, message: FileClassified) -> None:
        prediction = message.prediction
        self.query_one(ScoreBars).show(prediction.scores)
        self.query_one(TopLabel).show(prediction.label, prediction.confidence)
        log = self.query_one("#decisions", RichLog)
        log.write(f"{message.path.name}: {prediction.label} ({prediction.confidence:.0%})")
        for window in prediction.windows[:50]:
            log.write(f"  {window.start:6.1f} s  {window.label}  {window.confidence:.0%}")
        self.status(f"{message.path.name}: {prediction.label}, confidence {prediction.confidence:.0%}.")
