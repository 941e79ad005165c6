"""`k` on the Validate tab: keep what was just heard as a sample (the class picker and the handlers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from core.errors import EarshotError
from core.project import Project
from core.spec import BACKGROUND_NOISE
from tui.messages import ProjectChanged

KEEP_DECISION_SECONDS = 5.0


def picker_order(classes: list[str]) -> list[str]:
    """Background Noise first (most false alarms belong there), then the others in project order."""
    return sorted(classes, key=lambda name: name != BACKGROUND_NOISE)


class ClassPicker(ModalScreen[str | None]):
    """Choose a class with the arrows and Enter (or its number); Esc keeps nothing."""

    BINDINGS = [Binding("escape", "cancel", "Keep nothing")] + [
        Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, 10)]
    DEFAULT_CSS = """
    ClassPicker .dialog { width: 50; }
    ClassPicker OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, classes: list[str], title: str) -> None:
        super().__init__()
        self.class_names, self.title_text = picker_order(classes), title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(f"{n}  {name}", id=name) for n, name in enumerate(self.class_names, 1)],
                             id="classes")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        if index < len(self.class_names):
            self.dismiss(self.class_names[index])

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass
class WindowKept(Message):
    """A heard window was stored as a sample (`kept` is core.keep.KeptSample), or failed to be."""

    kept: Any
    error: EarshotError | None = None


class KeepsHeardWindows:
    """`k` for a listening pane: cut the window behind the last decision (if it was less than
    KEEP_DECISION_SECONDS ago, else the last second) at once, ask its class, store it in a worker.

    The pane's listen worker sets `_recent` (core.keep.RecentAudio) and `_clip_samples`; its decision
    handler sets `_last_decision` (the decision's stream time)."""

    _recent: Any = None
    _clip_samples = 0
    _last_decision: float | None = None

    def action_keep(self) -> None:
        """Cut the window behind the last decision (or the last second) now; ask its class; store it."""
        project, recent = self.project, self._recent
        if project is None or recent is None or not self.listening:
            self.notify("k keeps what was just heard while listening: Listen (l) first.", title="Keep")
            return
        when = self._last_decision
        if when is not None and recent.end / recent.sample_rate - when > KEEP_DECISION_SECONDS:
            when = None  # too long ago: keep what is heard now
        size = self._clip_samples
        window = recent.at_time(when, size) if when is not None else recent.last(size)
        what = f"the window of the decision at {when:.1f} s" if when is not None else "the last second"

        def chosen(class_name: str | None) -> None:
            if class_name:
                self.keep_window(project, class_name, window)

        self.app.push_screen(ClassPicker([c.name for c in project.classes], f"Keep {what} as a sample of"),
                             chosen)

    @work(thread=True, exit_on_error=False, group="keep", description="Keep window")
    def keep_window(self, project: Project, class_name: str, window: Any) -> None:
        from core.keep import keep_window

        try:
            self.post_message(WindowKept(keep_window(project, class_name, window)))
        except EarshotError as error:
            self.post_message(WindowKept(None, error))

    def on_window_kept(self, message: WindowKept) -> None:
        if message.kept is None:
            self.fail("Cannot keep the window", message.error)
            return
        self.notify(f"Kept as a sample of {message.kept.class_name} ({message.kept.path.name}); "
                    "retrain to use it.", title="Keep")
        self.post_message(ProjectChanged(f"kept a window into {message.kept.class_name}"))

