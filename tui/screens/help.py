"""The `?` screen: every key of the app, its tabs and its dialogs; the app hands in the sections."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

KeySection = tuple[str, list[Binding]]


def bindings_of(owner: type) -> list[Binding]:
    """The bindings a class declares (BINDINGS may hold tuples as well as Binding objects)."""
    found: list[Binding] = []
    for item in getattr(owner, "BINDINGS", []):
        found.extend(Binding.make_bindings([item]) if not isinstance(item, Binding) else [item])
    return found


class HelpScreen(ModalScreen[None]):
    """Every key, one row each."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close help")]

    def __init__(self, sections: list[KeySection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-tall", id="help"):
            yield Label("Keys (Tab moves between fields, Enter presses a button; Esc closes)",
                        classes="dialog-title")
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Where", width=10)
        table.add_column("Key", width=7)
        table.add_column("Does", width=48)
        for section, bindings in self.sections:
            for binding in bindings:
                keys = binding.key_display or binding.key
                keys = ", ".join(k.replace("question_mark", "?") for k in keys.split(","))
                table.add_row(section, keys, Text(binding.tooltip or binding.description), height=None)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
