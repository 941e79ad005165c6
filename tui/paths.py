"""Paths as the user reads them: relative to the current folder when inside it, else with ~."""

from __future__ import annotations

from pathlib import Path


def shown_path(path: Path) -> str:
    """`path` short: "words" inside the current folder, "~/lab/words" under home, else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd().absolute())) or "."
    except ValueError:
        pass
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(path)
