"""Small modal dialogs returning their answer through `dismiss`: text, yes/no and a path picker."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label

from core.audio import is_audio_name


class TextDialog(ModalScreen[str | None]):
    """Ask for one line of text (a class name, a file name)."""

    AUTO_FOCUS = "#answer"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, value: str = "", placeholder: str = "") -> None:
        """`value` is shown selected: Enter accepts it, typing replaces it."""
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="answer", select_on_focus=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def accept(self) -> None:
        self.dismiss(self.query_one("#answer", Input).value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; y and n answer it."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ChoiceDialog(ModalScreen[str | None]):
    """A question with a few answers, one button each (the first is the default); Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]]) -> None:
        """`choices`: (answer, button label) pairs."""
        super().__init__()
        self.question, self.choices = question, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                for n, (answer, label) in enumerate(self.choices):
                    yield Button(label, variant="primary" if n == 0 else "default", name=answer)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class UploadTree(DirectoryTree):
    """Folders, zips and audio files only."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")
                and (p.is_dir() or p.suffix.lower() == ".zip" or is_audio_name(p.name))]


class PathDialog(ModalScreen[Path | None]):
    """Pick a file or folder: type a path, or browse with the tree (Enter on a folder picks it too)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+t", "focus_tree", "Browse"),
    ]

    def __init__(self, title: str, start: Path, *, value: str = "", browse: bool = True) -> None:
        super().__init__()
        self.title_text, self.start, self.value, self.browse = title, start, value, browse

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-tall"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder="a path, or browse below (ctrl+t)", id="path")
            if self.browse:
                yield UploadTree(self.start, id="tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(DirectoryTree.FileSelected)
    def file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)

    @on(DirectoryTree.DirectorySelected)
    def folder_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#path", Input).value = str(event.path)

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def accept(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if text:
            self.dismiss(Path(text).expanduser())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_focus_tree(self) -> None:
        if self.browse:
            self.query_one("#tree").focus()
