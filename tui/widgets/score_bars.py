"""One bar per class for the latest scores, and the top label in large text."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

NAME_WIDTH = 16


class ScoreBars(Static):
    """Bars of `label -> score` (0..1); the best one highlighted."""

    DEFAULT_CSS = """
    ScoreBars { height: auto; }
    """

    def show(self, scores: Mapping[str, float], *, threshold: float = 0.0) -> None:
        self.scores = dict(scores)
        self.threshold = threshold
        self.refresh_bars()

    def on_resize(self) -> None:
        if getattr(self, "scores", None):
            self.refresh_bars()

    def refresh_bars(self) -> None:
        scores = self.scores
        best = max(scores, key=lambda k: scores[k]) if scores else None
        width = max(10, (self.size.width or 60) - NAME_WIDTH - 7)
        lines = []
        for label, score in scores.items():
            name = label if len(label) <= NAME_WIDTH else label[: NAME_WIDTH - 1] + "…"
            filled = round(width * max(0.0, min(1.0, score)))
            style = "bold green" if label == best and score >= self.threshold else "cyan"
            line = Text(f"{name:<{NAME_WIDTH}} ", style="bold" if label == best else "")
            line.append("█" * filled, style=style)
            line.append("░" * (width - filled), style="dim")
            line.append(f" {score:4.0%}")
            lines.append(line)
        self.update(Group(*lines))


class TopLabel(Static):
    """The current top label, big and centred, or a dim hint."""

    label: str | None = None

    DEFAULT_CSS = """
    TopLabel { height: 3; content-align: center middle; text-style: bold; border: heavy $accent; }
    """

    def show(self, label: str | None, confidence: float = 0.0, *, hint: str = "") -> None:
        """A label and its confidence; None: a dash (nothing passes the threshold), with a dim hint."""
        self.label = label
        if label is None:
            self.update(Text("—" + (f"  {hint}" if hint else ""), style="dim"))
        else:
            self.update(Text(f"{label.upper()}  {confidence:.0%}", style="bold"))

    def show_text(self, text: str) -> None:
        """A headline of its own (the labels found in a long file)."""
        self.label = text
        self.update(Text(text, style="bold"))
