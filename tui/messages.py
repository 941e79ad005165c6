"""Messages workers post to the screens that own them: dataclasses named as past-tense facts.

Workers never touch widgets; they post one of these and the handler on the owning pane updates the
UI. High-rate messages (levels, decisions, push statistics) override `can_replace`, so a slow
terminal drops stale ones instead of queueing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from textual.message import Message

from core.errors import EarshotError


class CanPost(Protocol):
    def post_message(self, message: Message) -> bool: ...


def poster(target: CanPost, make: Callable[..., Message]) -> Callable[..., None]:
    """A progress callback for core that posts `make(*args)` to `target` (safe from any thread)."""

    def post(*args: Any) -> None:
        target.post_message(make(*args))

    return post


@dataclass
class ProjectChosen(Message):
    """The user chose a project to open (or to create, with an optional name); the app opens it."""

    path: Path
    create: bool = False
    name: str | None = None


@dataclass
class ProjectOpened(Message):
    """A project was opened or created; every pane shows it."""

    path: Path


@dataclass
class ProjectChanged(Message):
    """Classes or samples changed; panes that show counts refresh."""

    reason: str = ""


@dataclass
class DemoBuilt(Message):
    path: Path


@dataclass
class WorkerFailed(Message):
    """A background task failed (an EarshotError is expected, anything else is a bug)."""

    title: str
    error: BaseException | None


@dataclass
class ActionFailed(Message):
    """An expected failure (an EarshotError) of a background action."""

    title: str
    error: EarshotError


# -- data --------------------------------------------------------------------------------------


@dataclass
class SamplesImported(Message):
    """An upload finished: how many clips were added to which class."""

    class_name: str
    added: int
    summary: str
    paths: list[Path] = field(default_factory=list)  # the new samples (what Undo moves to the trash)


@dataclass
class SampleStripsComputed(Message):
    """Level strips of a class's samples, keyed by (path, modification time)."""

    class_id: str
    strips: dict[tuple[Path, float], Any]


@dataclass
class SamplesExported(Message):
    """Download Sample wrote a zip of one class."""

    class_name: str
    path: Path
    count: int


@dataclass
class RecordingTicked(Message):
    """Seconds recorded so far in a running recording."""

    seconds: float
    total: float
    countdown: int = 0  # seconds before recording starts (0: recording; -1: the meter's monitor opened)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RecordingTicked) and not (message.countdown or self.countdown)


@dataclass
class MicrophonesListed(Message):
    """(key, label) of each microphone, or the error that prevented listing them."""

    microphones: list[tuple[str, str]]
    error: EarshotError | None = None


@dataclass
class RecordingFinished(Message):
    """The recording stopped (countdown ended or cancelled); the audio is kept for Extract."""

    seconds: float
    cancelled: bool
    silent: bool
    audio: Any = field(repr=False, default=None)
    error: EarshotError | None = None


@dataclass
class SamplesExtracted(Message):
    """Extract stored clips from a recording: kept, dropped (reason -> count) and a summary."""

    class_name: str
    kept: int
    dropped: dict[str, int]
    summary: str
    recording: Path | None = None


@dataclass
class SamplePlayed(Message):
    path: Path


# -- training ----------------------------------------------------------------------------------


@dataclass
class TrainingStatus(Message):
    """A status line from training (loading data, computing features, building the model)."""

    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingStatus)


@dataclass
class EpochEnded(Message):
    """One epoch of training finished (`metrics` is core.train.EpochMetrics)."""

    metrics: Any


@dataclass
class TrainingFinished(Message):
    """Training ended; `result` is core.train.TrainResult, or None when cancelled."""

    result: Any
    cancelled: bool = False


@dataclass
class MistakesFound(Message):
    """The saved model's wrong test clips (core.evaluate.Mistake), re-evaluated in a worker."""

    mistakes: list[Any]


@dataclass
class TrainingFailed(Message):
    error: EarshotError


@dataclass
class TrainingStateChanged(Message):
    """Training started or ended (`saved`: a new model replaced the project's model)."""

    running: bool
    saved: bool = False


# -- validation --------------------------------------------------------------------------------


@dataclass
class WindowScored(Message):
    """Smoothed scores of the latest live window (label -> score), its end in seconds of the stream
    and the audio level. (`Message.time` is Textual's own clock: never name a field `time`.)"""

    seconds: float
    scores: dict[str, float]
    level_db: float = -100.0

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WindowScored)


@dataclass
class DecisionMade(Message):
    """A live decision (core.infer.Decision): a label confident enough to report."""

    decision: Any


@dataclass
class FileClassified(Message):
    """A file was classified (`prediction` is core.classifier.Prediction), or could not be (`error`)."""

    path: Path
    prediction: Any
    error: str = ""


@dataclass
class ListeningStopped(Message):
    """Live listening ended: "cancelled", "end" of the source, or an error message."""

    reason: str = ""
    seconds: float = 0.0
    decisions: int = 0


# -- deploy ------------------------------------------------------------------------------------


@dataclass
class ModelExported(Message):
    path: Path
    contents: list[str]


@dataclass
class PortsListed(Message):
    """(device, description) of each serial port, or the error that prevented listing them."""

    ports: list[tuple[str, str]]
    error: EarshotError | None = None


@dataclass
class FlashProgressed(Message):
    text: str
    fraction: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FlashProgressed)


@dataclass
class FlashFinished(Message):
    port: str
    summary: str


@dataclass
class FlashFailed(Message):
    error: EarshotError


@dataclass
class PushStatusChanged(Message):
    """The MQTT publisher reported a status line (connected, reconnecting, stopped...) and, while
    not connected, the reason (refused, unreachable, lost)."""

    text: str
    state: str = ""
    reason: str = ""

    @classmethod
    def of(cls, status: Any) -> PushStatusChanged:
        """From a core.push.mqtt.PushStatus."""
        return cls(status.message, status.state, status.reason)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PushStatusChanged)


@dataclass
class PushStopped(Message):
    sent: int
    dropped: int
