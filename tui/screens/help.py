"""The `?` screen: every key of the app, its tabs and its dialogs, gathered from their bindings."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label


def _bindings(owner: type) -> list[Binding]:
    found: list[Binding] = []
    for item in getattr(owner, "BINDINGS", []):
        found.extend(Binding.make_bindings([item]) if not isinstance(item, Binding) else [item])
    return found


def key_sections() -> list[tuple[str, list[Binding]]]:
    """(section, bindings) for the app, each tab and each dialog, in workflow order."""
    from tui.app import EarshotApp
    from tui.screens.base import ProjectTab
    from tui.screens.data import DataPane
    from tui.screens.deploy import DeployPane
    from tui.screens.dialogs import ConfirmDialog, PathDialog, TextDialog
    from tui.screens.project import ProjectPane
    from tui.screens.record import RecordDialog
    from tui.screens.train import TrainPane
    from tui.screens.validate import ValidatePane

    owners: list[tuple[str, type]] = [
        ("Everywhere", EarshotApp), ("Every tab", ProjectTab), ("Project", ProjectPane), ("Data", DataPane),
        ("Record", RecordDialog), ("Train", TrainPane), ("Validate", ValidatePane),
        ("Deploy", DeployPane), ("Yes/no questions", ConfirmDialog), ("File picker", PathDialog),
        ("Text input", TextDialog),
    ]
    return [(title, _bindings(owner)) for title, owner in owners]


class HelpScreen(ModalScreen[None]):
    """Every key, one row each."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close help")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-tall", id="help"):
            yield Label("Keys (Tab moves between fields, Enter presses a button; Esc closes)",
                        classes="dialog-title")
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Where", "Key", "Does")
        for section, bindings in key_sections():
            for binding in bindings:
                keys = binding.key_display or binding.key
                keys = ", ".join(k.replace("question_mark", "?") for k in keys.split(","))
                table.add_row(section, keys, binding.description)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
