"""The recent projects list, kept in `$XDG_CONFIG_HOME/earshot/recent.json`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core import atomic

MAX_RECENT = 8


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "earshot"


def load_recent() -> list[Path]:
    """Project folders opened before, newest first, that still exist."""
    try:
        items = json.loads((config_dir() / "recent.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    return [Path(p) for p in items if isinstance(p, str) and (Path(p) / "project.json").is_file()]


def remember(project_root: Path) -> None:
    """Put a project first in the recent list (best effort: a read-only home is not an error)."""
    root = str(Path(project_root).resolve())
    items = [root] + [str(p) for p in load_recent() if str(p) != root]
    try:
        atomic.write_json(config_dir() / "recent.json", items[:MAX_RECENT])
    except Exception:  # noqa: BLE001 - the list is a convenience, never worth an error
        pass
