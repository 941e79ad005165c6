"""The class picker behind `k` (Validate tab): which class the window just heard belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from core.errors import EarshotError
from core.spec import BACKGROUND_NOISE


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
