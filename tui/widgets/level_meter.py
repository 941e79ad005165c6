"""A horizontal level meter with peak hold, polled at ~20 Hz from a capture level holder."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.widget import Widget

FLOOR_DB = -60.0
PEAK_HOLD_SECONDS = 1.5
SILENT_DB = -55.0  # peaks below this for SILENT_SECONDS: the microphone looks silent
SILENT_SECONDS = 2.0
POLL_SECONDS = 0.05


def fraction(db: float) -> float:
    """dBFS mapped to 0..1 over FLOOR_DB..0."""
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(Widget):
    """RMS bar, a peak-hold marker and the numbers; `silent` turns True after a silent stretch."""

    DEFAULT_CSS = """
    LevelMeter { height: 1; width: 1fr; }
    """

    def __init__(self, read_level: Callable[[], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_level = read_level
        self.rms_db = FLOOR_DB
        self.peak_db = FLOOR_DB
        self.hold_db = FLOOR_DB
        self._hold_until = 0.0
        self._loud_at = time.monotonic()
        self.silent = False
        self.active = False

    def on_mount(self) -> None:
        self.set_interval(POLL_SECONDS, self.poll)

    def start(self, read_level: Callable[[], Any]) -> None:
        self.read_level, self.active = read_level, True
        self._loud_at = time.monotonic()
        self.silent = False

    def stop(self) -> None:
        self.active = False

    def poll(self) -> None:
        if not self.active or self.read_level is None:
            return
        level = self.read_level()
        if level is not None:
            self.update_level(float(level.rms_db), float(level.peak_db), time.monotonic())

    def update_level(self, rms_db: float, peak_db: float, now: float) -> None:
        """Show a new level; hold the highest peak for PEAK_HOLD_SECONDS."""
        self.rms_db, self.peak_db = rms_db, peak_db
        if peak_db >= self.hold_db or now >= self._hold_until:
            self.hold_db, self._hold_until = peak_db, now + PEAK_HOLD_SECONDS
        if peak_db >= SILENT_DB:
            self._loud_at = now
        self.silent = now - self._loud_at >= SILENT_SECONDS
        self.refresh()

    def render(self) -> Text:
        label = f" {self.rms_db:5.0f} dB peak {self.hold_db:4.0f}"
        width = max(4, self.size.width - len(label))
        filled = round(width * fraction(self.rms_db))
        hold = min(width - 1, round(width * fraction(self.hold_db)))
        text = Text()
        for i in range(width):
            zone = "green" if i < 0.7 * width else "yellow" if i < 0.9 * width else "red"
            if i == hold and self.hold_db > FLOOR_DB:
                text.append("▌", style=f"bold {zone}")
            elif i < filled:
                text.append("█", style=zone)
            else:
                text.append("·", style="dim")
        text.append(label)
        return text
