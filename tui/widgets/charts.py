"""Per-epoch line charts (train and test) drawn with plotext; the chart keeps its own data."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot


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
        if self.unit_range:
            plt.ylim(0, 1)
        if self.epochs:
            marker = "hd" if len(self.epochs) > 1 else "dot"
            plt.plot(self.epochs, self.train, label="train", color="blue", marker=marker)
            test = [(e, v) for e, v in zip(self.epochs, self.test, strict=True) if v == v]  # skip NaN
            if test:
                plt.plot([e for e, _ in test], [v for _, v in test], label="test", color="orange",
                         marker=marker)
        self.refresh()
