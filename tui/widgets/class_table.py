"""The class list: sample counts with a bar against the minimum, Background Noise first."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from core.project import Project

BAR_WIDTH = 10


def count_bar(count: int, minimum: int, width: int = BAR_WIDTH) -> Text:
    """`count` of `minimum` as a bar: green once the minimum is reached, yellow before."""
    filled = min(width, round(width * count / minimum)) if minimum else width
    style = "green" if count >= minimum else "yellow"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {count}/{minimum}" if count < minimum else f" {count} ✓")
    return bar


class ClassTable(DataTable[object]):
    """One row per class (key: the class id)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.add_column("Class", key="name")
        self.add_column("Samples", key="samples")

    def show(self, project: Project | None) -> None:
        """Refill from the project, keeping the cursor on the same class."""
        selected = self.selected_id
        self.clear()
        if project is None:
            return
        for info in project.classes:
            name = Text(info.name, style="bold" if info.fixed else "")
            self.add_row(name, count_bar(project.sample_count(info), project.min_samples), key=info.id)
        ids = [c.id for c in project.classes]
        if selected in ids:
            self.move_cursor(row=ids.index(selected))

    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - an empty or refilling table has no selection
            return None
