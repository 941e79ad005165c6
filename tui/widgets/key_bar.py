"""The footer: the keys that work right now, wrapped onto as many rows as the width needs (two at
80 columns), so no key is cut off; the `?` help screen lists every key with a longer description."""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

MAX_ROWS = 3


class KeyBar(Widget):
    """Shown keys of the focused widget's chain (widget, pane, screen, app); disabled ones dimmed."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: auto; max-height: 3; background: $footer-background; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self.refresh(layout=True)

    def items(self) -> list[tuple[str, str, bool]]:
        """(key, description, enabled) of each shown binding, one per action, in chain order."""
        seen: set[str] = set()
        found: list[tuple[str, str, bool]] = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            found.append((self.app.get_key_display(binding), binding.description, enabled))
        if isinstance(self.screen.focused, Input):  # typing: letters go to the field, Esc gets them back
            found.insert(0, ("esc", "Back to the tab's keys", True))
        return found

    def rows(self, width: int) -> list[Text]:
        rows: list[Text] = [Text()]
        for key, description, enabled in self.items():
            item = Text()
            item.append(f" {key} ", style="bold reverse" if enabled else "dim reverse")
            item.append(f" {description} ", style="" if enabled else "dim")
            if rows[-1].cell_len and rows[-1].cell_len + item.cell_len > width:
                rows.append(Text())
            rows[-1].append_text(item)
        return rows[:MAX_ROWS]

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.rows(width))

    def render(self) -> Text:
        return Text("\n").join(self.rows(self.size.width or 80))
