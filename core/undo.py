"""Undo the last change to a project's samples: put a deleted sample back, or move an import's new
samples to the trash. Nothing is ever deleted outright (see core.project's trash folder)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from core.errors import ProjectError
from core.project import Project


def sample_set(project: Project) -> set[Path]:
    """Every sample of every class (to tell which ones an import added)."""
    return {path for info in project.classes for path in project.samples(info)}


def restore_sample(project: Project, trashed: Path, original: Path) -> Path:
    """Move a sample deleted with Project.delete_sample back to where it was."""
    trashed, original = Path(trashed), Path(original)
    if original.parent.parent != project.root / "samples" or not trashed.is_file():
        raise ProjectError(f"cannot restore {original.name}: it is no longer in the trash",
                           "nothing to undo")
    if original.exists():
        raise ProjectError(f"cannot restore {original.name}: a sample of that name is back already",
                           "nothing to undo")
    with project.lock():
        original.parent.mkdir(parents=True, exist_ok=True)
        os.replace(trashed, original)
    return original


def trash_samples(project: Project, paths: Iterable[Path]) -> int:
    """Move samples (an import's new ones) to the trash; return how many were moved."""
    moved = 0
    for path in paths:
        if Path(path).is_file():
            project.delete_sample(Path(path))
            moved += 1
    return moved
