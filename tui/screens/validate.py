"""Validate tab: live classification from a microphone, or a file; threshold and smoothing.

Listening and classifying a file share one model, and a LiteRT interpreter is not thread-safe:
every worker that runs the model is in the one exclusive group MODEL_GROUP, and a new task is
refused (with a message) while another one runs. A cancelled worker counts as finished while its
thread still ends its last read and scoring step, so each thread also holds the pane's model lock
(and the microphone) for as long as it runs: a Listen right after Stop waits for the last one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from threading import Lock
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RichLog, Static
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
from tui.screens.keep import KeepsHeardWindows
from tui.widgets.microphones import MicrophoneSelect
from tui.widgets.score_bars import ScoreBars, TopLabel

SECTION = "validate"
DEFAULTS = StreamSettings()
MODEL_GROUP = "model"  # every worker that runs the model: one at a time
TIMELINE_WIDTH = 60
MAX_SMOOTHING = 10  # windows of 0.25 s: more would lag the label by seconds


def parse_stream_settings(threshold: str, smoothing: str) -> Any:
    """The form's threshold and smoothing as core.infer.StreamSettings (blank = default).

    One message for every action that reads them (Listen, Classify a file, Calibrate)."""
    hint = (f"threshold is a number above 0 up to 1 (blank: {DEFAULTS.threshold:g}), smoothing a whole "
            f"number of windows from 1 to {MAX_SMOOTHING} (blank: {DEFAULTS.smooth_windows})")
    try:
        value = float(threshold) if threshold.strip() else DEFAULTS.threshold
        windows = int(smoothing) if smoothing.strip() else DEFAULTS.smooth_windows
    except ValueError as exc:
        raise CaptureError("Threshold or smoothing is not a number", hint) from exc
    if not 0 < value <= 1:
        raise CaptureError(f"Threshold {threshold.strip()} is out of range", hint)
    if not 1 <= windows <= MAX_SMOOTHING:
        raise CaptureError(f"Smoothing {smoothing.strip()} is out of range", hint)
    return StreamSettings(threshold=value, smooth_windows=windows, hop_seconds=DEFAULTS.hop_seconds)


def found_labels(windows: list[Any]) -> list[tuple[str, int]]:
    """(label, number of windows) of a long file, most frequent first."""
    return Counter(w.label for w in windows).most_common()


def timeline(windows: list[Any], labels: list[str], width: int = TIMELINE_WIDTH) -> Text:
    """One letter per window (the label's initial, coloured per label), wrapped to `width`."""
    colours = ["dim", "green", "cyan", "magenta", "yellow", "blue", "red", "bright_green"]
    text = Text()
    for n, window in enumerate(windows):
        if n and n % width == 0:
            text.append("\n")
        index = labels.index(window.label) if window.label in labels else 0
        text.append(window.label[:1].upper() if index else "·", style=colours[index % len(colours)])
    return text


class ValidatePane(KeepsHeardWindows, ProjectTab):
    TITLE = "Validate"
    TAB_ID = "validate"
    KEY = "4"
    DEFAULT_FOCUS = ("#listen-btn", "#stop-btn")
    BINDINGS = [
        Binding("l", "listen", "Listen", tooltip="Listen: classify the microphone live"),
        Binding("s", "stop", "Stop", tooltip="Stop listening"),
        Binding("f", "classify_file", "Classify file", tooltip="Classify an audio file"),
        Binding("m", "focus_field('#validate-mic')", "Mic", tooltip="Choose the microphone"),
        Binding("k", "keep", "Keep window", tooltip="Keep what was just heard as a sample (while listening)"),
        Binding("c", "calibrate", "Calibrate", tooltip="Choose threshold and smoothing on a test stream"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classifier: Any = None
        self._classifier_key: Any = None
        self._model_lock = Lock()  # held by the thread running the model (module doc)
        self.threshold = DEFAULTS.threshold

    def compose(self) -> ComposeResult:
        with Vertical():
            with Horizontal(classes="form-row compact-row"):
                yield MicrophoneSelect(self.services.microphones, id="validate-mic", compact=True)
                yield Button("Listen", variant="primary", id="listen-btn", classes="compact")
                yield Button("Stop", id="stop-btn", classes="compact", disabled=True)
                yield Button("Classify a file", id="file-btn", classes="compact")
                yield Button("Calibrate", id="calibrate-btn", classes="compact")
            with Horizontal(classes="form-row compact-row"):
                yield Label("Threshold")
                yield Input(placeholder=f"{DEFAULTS.threshold:g}", id="threshold", type="number",
                            compact=True)
                yield Label("Smoothing (windows)")
                yield Input(placeholder=str(DEFAULTS.smooth_windows), id="smoothing", type="integer",
                            compact=True)
            yield TopLabel("—", id="top-label")
            yield ScoreBars(id="scores")
            yield Static("Open a project first (tab 1).", id="validate-status")
            yield RichLog(id="decisions", max_lines=200)

    def has_model(self) -> bool:
        return self.project is not None and (self.project.models_dir / "latest" / "metadata.json").is_file()

    def show_project(self, project: Project | None) -> None:
        super().show_project(project)
        for worker in self.workers:  # listening or classifying with the previous project's model
            if worker.group == MODEL_GROUP:
                worker.cancel()
        self.clear_results()
        if project is None:
            return
        saved = project.settings(SECTION)
        self.query_one("#threshold", Input).value = str(saved.get("threshold", ""))
        self.query_one("#smoothing", Input).value = str(saved.get("smooth_windows", ""))
        self._classifier = None
        self.show_ready()

    def clear_results(self) -> None:
        """Forget what the previous project or model heard: bars, headline and decisions."""
        self.query_one(ScoreBars).show({})
        self.query_one(TopLabel).show(None)
        self.query_one("#decisions", RichLog).clear()

    def training_changed(self, running: bool, saved: bool) -> None:
        if saved:  # the bars and decisions shown came from the previous model
            self.clear_results()
            if not self.busy:
                self.status("A new model was saved: Listen (l) or Classify a file (f) to try it.")

    def shown(self) -> None:
        self.query_one(MicrophoneSelect).ensure_listed()
        if not self.busy:
            self.show_ready()

    mic_problem = ""

    def show_ready(self) -> None:
        if self.has_model():
            text = "Ready: Listen (l) to the microphone, or Classify a file (f)."
        else:
            text = "No model yet: train one on the Train tab (3), then Listen (l) or Classify a file (f)."
        self.status(text + (f"\n[yellow]{self.mic_problem}[/]" if self.mic_problem else ""))

    def on_microphones_listed(self, message: MicrophonesListed) -> None:
        if message.error is not None:
            self.mic_problem = f"No microphone: {message.error.message}. Classify a file (f) instead."
        elif not message.microphones:
            self.mic_problem = "No microphone found: connect one, or Classify a file (f)."
        else:
            self.mic_problem = ""
        if not self.busy:
            self.show_ready()

    def status(self, text: str) -> None:
        self.query_one("#validate-status", Static).update(text)

    # -- settings and model -----------------------------------------------------------------

    def settings(self, project: Project) -> Any:
        """Read and save the form's stream settings; raises CaptureError on bad values."""
        settings = parse_stream_settings(self.query_one("#threshold", Input).value,
                                         self.query_one("#smoothing", Input).value)
        values = {"threshold": settings.threshold, "smooth_windows": settings.smooth_windows}
        defaults = StreamSettings()
        in_effect = {"threshold": defaults.threshold, "smooth_windows": defaults.smooth_windows,
                     **project.settings(SECTION)}
        if {key: in_effect.get(key) for key in values} != values:  # the defaults are never written
            project.set_settings(SECTION, values)
        self.threshold = settings.threshold
        return settings

    def classifier(self, project: Project) -> Any:
        """The project's classifier, reloaded when the model changed (only in MODEL_GROUP workers)."""
        from core.classifier import load_classifier

        metadata = project.models_dir / "latest" / "metadata.json"
        key = metadata.stat().st_mtime_ns if metadata.exists() else None
        if self._classifier is None or key != self._classifier_key:
            self._classifier = load_classifier(project.root)
            self._classifier_key = key
        return self._classifier

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Dim the keys that do nothing now (Listen while busy, Stop while not listening)."""
        if action in ("listen", "classify_file"):
            return None if self.busy else True  # None: shown dimmed, and does nothing
        if action == "stop":
            return True if self.listening else None
        return True

    @property
    def busy(self) -> bool:
        """A worker is running the model (listening or classifying a file)."""
        return any(w.group == MODEL_GROUP and not w.is_finished for w in self.workers)

    @property
    def listening(self) -> bool:
        return any(w.group == MODEL_GROUP and w.name == "listen" and not w.is_finished
                   for w in self.workers)

    def can_start(self, what: str) -> Project | None:
        project = self.need_project()
        if project is None:
            return None
        if self.busy:
            doing = "listening: stop with s" if self.listening else "classifying a file: wait a moment"
            self.notify(f"Still {doing}, then {what}.", title="Validate", severity="warning")
            return None
        if not self.has_model():
            self.notify("No model yet: train one on the Train tab (3) first.", title="Validate",
                        severity="warning")
            return None
        try:
            self.settings(project)
        except EarshotError as error:
            self.fail("Threshold and smoothing", error)
            self.status(f"[red]{error.message}[/]: fix the field, then {what}.")
            return None
        return project

    # -- live -------------------------------------------------------------------------------

    @on(Button.Pressed, "#listen-btn")
    def action_listen(self) -> None:
        project = self.can_start("Listen")
        if project is None:
            return
        settings = self.settings(project)  # checked by can_start
        key = self.query_one(MicrophoneSelect).key
        self.show_listening(True)
        self.query_one("#decisions", RichLog).clear()
        self.query_one(TopLabel).show(None)
        self.status("Loading the model...")
        self.listen(project, key, settings)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group=MODEL_GROUP, name="listen",
          description="Listen")
    def listen(self, project: Project, key: str | None, settings: Any) -> None:
        cancel = get_current_worker().cancelled_event
        with self._model_lock:
            self._listen(project, key, settings, cancel)

    def _listen(self, project: Project, key: str | None, settings: Any, cancel: Any) -> None:
        from core.infer import StreamingClassifier, listen
        from core.keep import RecentAudio, TappedSource

        push = self.services.push
        try:
            classifier = self.classifier(project)
            streaming = StreamingClassifier(classifier, settings)
            self._recent = recent = RecentAudio(classifier.audio.sample_rate)
            self._clip_samples, self._last_decision = classifier.audio.clip_samples, None
            microphone = self.services.microphones.open_microphone(key, classifier.audio.sample_rate)
            source = TappedSource(microphone, recent)
            source.start()
            try:
                self.post_message(ListeningStopped("started"))

                def on_window(window: Any) -> None:
                    scores = dict(zip(streaming.labels, (float(s) for s in window.smoothed), strict=True))
                    self.post_message(WindowScored(window.time, scores, source.level().rms_db))

                def on_decision(decision: Any) -> None:
                    push.publish(decision)
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

    def worker_crashed(self, worker: Any) -> None:
        if worker.group == MODEL_GROUP:
            self.on_listening_stopped(ListeningStopped("failed unexpectedly (see the message)"))

    def on_window_scored(self, message: WindowScored) -> None:
        self.query_one(ScoreBars).show(message.scores, threshold=self.threshold)
        best = max(message.scores, key=lambda k: message.scores[k])
        top = self.query_one(TopLabel)
        if message.scores[best] >= self.threshold:
            top.show(best, message.scores[best])
        else:
            top.show(None, hint=f"nothing above the threshold {self.threshold:.0%}")
        self.status(f"Listening: {message.seconds:6.1f} s, level {message.level_db:4.0f} dB. Stop with s.")

    def on_decision_made(self, message: DecisionMade) -> None:
        decision = message.decision
        self._last_decision = decision.time
        self.query_one("#decisions", RichLog).write(
            f"{decision.time:7.2f} s  {decision.label}  {decision.confidence:.0%}")

    def on_listening_stopped(self, message: ListeningStopped) -> None:
        self.refresh_bindings()
        if message.reason == "started":
            self.show_listening(True)  # again: the previous listener's end may have come in between
            self.status("Listening... play sounds to the microphone. Stop with s.")
            return
        self.show_listening(False)
        if message.reason in {"cancelled", "end", "seconds"}:
            self.status(f"Stopped after {message.seconds:.1f} s, {message.decisions} decisions. "
                        "Listen again with l.")
        else:
            self.status(f"[red]Stopped:[/] {message.reason}")

    def show_listening(self, on: bool) -> None:
        """Listen and Classify a file enabled when not listening, Stop when listening."""
        self.query_one("#listen-btn", Button).disabled = on
        self.query_one("#stop-btn", Button).disabled = not on
        self.query_one("#file-btn", Button).disabled = on
        self.focus_if_active("#stop-btn" if on else "#listen-btn")

    @on(Button.Pressed, "#stop-btn")
    def action_stop(self) -> None:
        if not self.listening:
            self.notify("Not listening: press l to Listen.", title="Stop")
            return
        for worker in self.workers:
            if worker.group == MODEL_GROUP and worker.name == "listen":
                worker.cancel()

    # -- a file -----------------------------------------------------------------------------

    @on(Button.Pressed, "#file-btn")
    def action_classify_file(self) -> None:
        project = self.can_start("Classify a file")
        if project is None:
            return

        def chosen(path: Path | None) -> None:
            if path is not None and not self.busy:
                self.status(f"Classifying {path.name}...")
                self.classify_file(project, path)
                self.refresh_bindings()

        self.app.push_screen(PathDialog("Classify a file (audio)", Path.cwd()), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group=MODEL_GROUP, name="file",
          description="Classify a file")
    def classify_file(self, project: Project, path: Path) -> None:
        from core.audio import load

        try:
            with self._model_lock:
                classifier = self.classifier(project)
                prediction = classifier.predict(load(path, classifier.audio.sample_rate))
        except EarshotError as error:
            self.post_message(ActionFailed("Cannot classify the file", error))
            self.post_message(FileClassified(path, None, error.message))
            return
        self.post_message(FileClassified(path, prediction))

    def on_file_classified(self, message: FileClassified) -> None:
        self.refresh_bindings()
        prediction, name = message.prediction, message.path.name
        if prediction is None:
            self.status(f"[red]Cannot classify {name}:[/] {message.error}")
            return
        log = self.query_one("#decisions", RichLog)
        top = self.query_one(TopLabel)
        if len(prediction.windows) <= 1:
            self.query_one(ScoreBars).show(prediction.scores)
            top.show(prediction.label, prediction.confidence)
            log.write(f"{name}: {prediction.label} ({prediction.confidence:.0%})")
            self.status(f"{name}: {prediction.label}, confidence {prediction.confidence:.0%}.")
            return
        windows = prediction.windows
        labels = list(prediction.scores)
        found = found_labels(windows)
        shares = {label: sum(1 for w in windows if w.label == label) / len(windows) for label in labels}
        self.query_one(ScoreBars).show(shares)
        heard = [(label, n) for label, n in found if label != labels[0]] or found
        top.show_text(",  ".join(f"{label.upper()} ×{n}" for label, n in heard[:4]))
        seconds = windows[-1].start + 1
        line = timeline(windows, labels)
        log.write(f"{name}: {len(windows)} windows over {seconds:.0f} s (one letter each, · background):")
        log.write(line)
        for window in windows[:200]:
            log.write(f"  {window.start:6.1f} s  {window.label}  {window.confidence:.0%}")
        summary = ", ".join(f"{label} {n}" for label, n in found)
        head = Text(f"{name}, {len(windows)} windows of 1 s (bars: share of windows): {summary}\n")
        shown = timeline(windows[: 2 * TIMELINE_WIDTH], labels)
        self.query_one("#validate-status", Static).update(head + shown)

    # -- calibrate ------------------------------------------------------------------------

    @on(Button.Pressed, "#calibrate-btn")
    def action_calibrate(self) -> None:
        from tui.screens.calibrate import CalibrateDialog

        project = self.can_start("Calibrate")
        if project is None:
            return

        def applied(result: Any) -> None:
            if result is None:
                return
            from core.calibrate import save_recommendation

            rec = result.recommended
            self.query_one("#threshold", Input).value = f"{rec.threshold:g}"
            self.query_one("#smoothing", Input).value = str(rec.smooth)
            try:
                save_recommendation(project, result)
                self.settings(project)
            except EarshotError as error:
                self.fail("Cannot save the setting", error)
                return
            self.notify(f"Threshold {rec.threshold:g}, smoothing {rec.smooth}: saved for Listen and "
                        "earshot listen.", title="Calibrated")

        self.app.push_screen(CalibrateDialog(project), applied)
