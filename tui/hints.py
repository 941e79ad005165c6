"""Core errors' hints name CLI commands ("train it first: earshot train DIR"); the app says its own way."""

from __future__ import annotations

import re

from core.errors import EarshotError

APP_WAYS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"'?earshot train.*$"), "press 3 (Train), then t"),
    (re.compile(r"'?earshot new.*$"), "press 1 (Project), then n"),
    (re.compile(r"'?earshot class add.*$"), "press 2 (Data), then a"),
    (re.compile(r"'?earshot export.*$"), "press 5 (Deploy), then e"),
    (re.compile(r"use --input FILE"), "classify a file instead (4, then f)"),
    (re.compile(r",? or give --noise FILE"), " on the Data tab (2)"),
    (re.compile(r"add --class NAME"), "select its class on the Data tab (2), then upload"),
)


def app_hint(hint: str) -> str:
    """`hint` with a CLI command replaced by the keys that do the same in the app."""
    for pattern, way in APP_WAYS:
        hint = pattern.sub(way, hint)
    return hint


def error_text(error: EarshotError) -> str:
    """An error's message, and its hint (in the app's words) on a second line."""
    return error.message + (f"\n{app_hint(error.hint)}" if error.hint else "")
