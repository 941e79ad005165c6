"""Per-epoch line charts (train and test) drawn with plotext; the chart keeps its own data."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static
from textual_plotext import PlotextPlot

TRAIN_COLOUR, TEST_COLOUR = "blue", "orange"
MAX_TICKS = 6


def epoch_ticks(max_epochs: int, max_ticks: int = MAX_TICKS) -> list[int]:
    """Whole-number epoch ticks from 1 to `max_epochs`, at most `max_ticks` of them, evenly stepped."""
    top = max(2, max_epochs)
    step = 1
    for candidate in (1, 2, 5, 10, 20, 25, 50, 100):
        step = candidate
        if (top - 1) // candidate + 1 <= max_ticks:
            break
    ticks = list(range(step if step > 1 else 1, top + 1, step))
    return [1, *ticks] if ticks[0] != 1 else ticks


class ChartLegend(Static):
    """The charts' legend on its own line, so no curve runs through it."""

    DEFAULT_CSS = "ChartLegend { height: 1; }"

    def on_mount(self) -> None:
        text = Text("Per epoch: ")
        text.append("━━ train (running, augmented batches)", style=f"bold {TRAIN_COLOUR}")
        text.append("  ")
        text.append("━━ test", style="bold dark_orange")
        self.update(text)


class MetricChart(PlotextPlot):
    """One metric per epoch for the training and the test split, redrawn in `replot()`."""

    def __init__(self, title: str, *, unit_range: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.unit_range = unit_range
        self.epochs: list[int] = []
        self.train: list[float] = []
        self.test: list[float] = []
        self.max_epochs = 1

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def reset(self, max_epochs: int) -> None:
        self.epochs, self.train, self.test = [], [], []
        self.max_epochs = max(1, max_epochs)
        self.replot()

    def add_point(self, epoch: int, train: float, test: float) -> None:
        self.epochs.append(epoch)
        self.train.append(float(train))
        self.test.append(float(test))
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("epoch")
        plt.xlim(1, max(2, self.max_epochs))
        plt.xticks(epoch_ticks(self.max_epochs))
        if self.unit_range:
            plt.ylim(0, 1)
        if self.epochs:
            marker = "hd" if len(self.epochs) > 1 else "dot"
            plt.plot(self.epochs, self.train, color=TRAIN_COLOUR, marker=marker)
            test = [(e, v) for e, v in zip(self.epochs, self.test, strict=True) if v == v]  # skip NaN
            if test:
                plt.plot([e for e, _ in test], [v for _, v in test], color=TEST_COLOUR, marker=marker)
        self.refresh()
