"""All-or-nothing commits of staged files into a project, safe under kill -9 and Ctrl-C.

An import stages every file inside the project (so renames are atomic), then:

 1. writes a journal: every move (staging -> final place), the folders it creates, and project.json
    before and after (new classes);
 2. makes the moves, then writes project.json;
 3. removes the journal.

The journal is the commit point. A process killed after step 1 leaves it behind, and the next process
to lock the project rolls the import forward (`recover`). An error or Ctrl-C inside the commit turns
the journal into an abort record and undoes the moves; if that is interrupted too, `recover` finishes
undoing. Either way the project shows the whole import or none of it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic
from core.errors import EarshotError, ProjectError
from core.projectfile import PROJECT_FILE, inside

JOURNAL = ".earshot-import.journal"
ABORTED = ".earshot-import.aborted"


@dataclass
class Commit:
    """What one import changes: moves (paths relative to the project) and project.json before/after."""

    moves: list[tuple[str, str]] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # created by this commit (removed on undo)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    done: bool = False  # past the commit point in this process: never undo it

    def to_dict(self) -> dict[str, Any]:
        return {"moves": self.moves, "folders": self.folders, "before": self.before, "after": self.after}

    @classmethod
    def load(cls, path: Path) -> Commit:
        data = json.loads(path.read_text(encoding="utf-8"))
        moves = [(str(a), str(b)) for a, b in data["moves"]]
        return cls(moves, [str(f) for f in data["folders"]], dict(data["before"]), dict(data["after"]))


def _forward(root: Path, commit: Commit) -> None:
    for created in commit.folders:
        inside(root, created, "an import journal folder").mkdir(parents=True, exist_ok=True)
    touched: set[Path] = set()
    for source, target in commit.moves:
        src = inside(root, source, "an import journal path")
        dst = inside(root, target, "an import journal path")
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            touched.add(dst.parent)
            atomic.crash_point("import-move")
    for folder in touched:
        atomic.fsync_dir(folder)


def _backward(root: Path, commit: Commit) -> None:
    for _source, target in commit.moves:
        inside(root, target, "an import journal path").unlink(missing_ok=True)
    for created in reversed(commit.folders):
        try:
            inside(root, created, "an import journal folder").rmdir()
        except OSError:
            pass  # not empty (it held files before) or already gone
    project_file = root / PROJECT_FILE
    if json.loads(project_file.read_text(encoding="utf-8")) != commit.before:
        atomic.write_json(project_file, commit.before)


def run(root: Path, commit: Commit, save_project: Callable[[], None]) -> None:
    """Make the commit's moves and save project.json (`save_project` writes `commit.after`).

    Any failure or interrupt before that is complete undoes it; `commit.done` says it completed."""
    journal = root / JOURNAL
    atomic.write_json(journal, commit.to_dict())
    atomic.crash_point("import-journal")
    try:
        _forward(root, commit)
        save_project()
        atomic.crash_point("import-project")
    except BaseException:
        os.replace(journal, root / ABORTED)
        _backward(root, commit)
        (root / ABORTED).unlink(missing_ok=True)
        raise
    commit.done = True
    journal.unlink(missing_ok=True)  # a journal left by a failure here is rolled forward: no harm
    try:
        atomic.fsync_dir(root)
    except OSError:
        pass


def write_files(root: Path, files: dict[Path, bytes], staging: Path, project_data: dict[str, Any]) -> None:
    """Write new files into the project all or nothing: stage them in `staging` (inside the project),
    sync once, then move them in under a journal (project.json, `project_data`, stays as it is)."""
    if not files:
        return
    commit = Commit(before=project_data, after=project_data)
    try:
        staging.mkdir(parents=True, exist_ok=True)
        for n, (target, data) in enumerate(files.items()):
            staged = staging / f"{n}-{target.name}"
            staged.write_bytes(data)
            commit.moves.append((str(staged.relative_to(root)), str(target.relative_to(root))))
        atomic.sync_filesystem(root)
        run(root, commit, lambda: None)
    except OSError as exc:
        raise atomic.disk_error(exc, staging) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pending(root: Path) -> bool:
    return (root / JOURNAL).exists() or (root / ABORTED).exists()


def recover(root: Path) -> bool:
    """Finish an import a killed process left half done (forward after the commit point, else back).

    Call only with the project's lock held. Returns True when project.json may have changed."""
    root = Path(root)
    for name, finish in ((ABORTED, _backward), (JOURNAL, _forward)):
        path = root / name
        if not path.exists():
            continue
        try:
            commit = Commit.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProjectError(f"{path} (an interrupted import's journal) is damaged ({str(exc)[:60]})",
                               f"remove {path.name} and check the newest samples") from None
        try:
            finish(root, commit)
            if finish is _forward:
                atomic.write_json(root / PROJECT_FILE, commit.after)
            path.unlink()
            atomic.fsync_dir(root)
        except OSError as exc:
            raise atomic.disk_error(exc, root) from exc
        except EarshotError:
            raise
        return True
    return False


def remove_staging(root: Path, prefix: str) -> None:
    """Staging folders of imports that are no longer running (call with the lock held, after recover)."""
    for leftover in Path(root).glob(f"{prefix}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
