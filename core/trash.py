"""Names in a project's `trash/`: what is removed goes there, never over something removed before."""

from __future__ import annotations

from pathlib import Path


def unique_path(path: Path) -> Path:
    """`path`, or `<stem>-2<suffix>`, `-3`, ... when it is taken (call with the project's lock held)."""
    n = 1
    candidate = path
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def new_folder(parent: Path, name: str) -> Path:
    """Create and return `parent/name`, or `name-2`, `name-3`, ... when it is taken."""
    parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        folder = parent / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
