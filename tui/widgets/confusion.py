"""The confusion matrix as a table: rows are the true class, columns the predicted one."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


def short(name: str, width: int = 10) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def confusion_table(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> Table:
    table = Table(title="Confusion matrix (rows: true class, columns: predicted)", title_justify="left",
                  box=None, padding=(0, 1), show_edge=False)
    table.add_column("true \\ predicted", no_wrap=True)
    for label in labels:
        table.add_column(short(label), justify="right", no_wrap=True)
    table.add_column("correct", justify="right")
    for i, (label, row) in enumerate(zip(labels, matrix, strict=True)):
        total = sum(row)
        cells = [Text(str(v), style=("bold green" if j == i else "bold red" if v else "dim"))
                 for j, v in enumerate(row)]
        correct = f"{row[i] / total:.0%}" if total else "-"
        table.add_row(short(label, 16), *cells, correct)
    return table


class ConfusionMatrix(Static):
    labels: list[str] = []
    matrix: list[list[int]] = []

    def show(self, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
        self.labels, self.matrix = list(labels), [list(row) for row in matrix]
        self.update(confusion_table(labels, matrix) if labels else "")
