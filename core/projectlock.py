"""The project's write lock: one writing process at a time, refused at once (never waited for).

`flock` on `.earshot.lock` (released by the kernel when the holder dies, so a kill -9 never leaves a
stale lock); the file holds the holder's pid for the message the next process shows. A read-only
project or a full disk is reported here, before any work starts.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core import atomic
from core.errors import ProjectError, ProjectLockedError
from core.projectfile import LOCK_FILE

READ_ONLY_HINT = "copy it to a writable folder; info, predict, listen and export -o still work"


def read_only_error(root: Path, code: int | None = errno.EROFS) -> ProjectError:
    """A project that can be read but not changed: a read-only file system, or no write permission."""
    if code == errno.EROFS:
        return ProjectError(f"{root} is read-only (a read-only file system): it cannot be changed",
                            READ_ONLY_HINT)
    return ProjectError(f"{root} is read-only for you (no write permission): it cannot be changed",
                        READ_ONLY_HINT)


class ProjectLock:
    """Re-entrant within one process: nested `hold()`s share the first one's lock."""

    def __init__(self, root: Path, name: str = LOCK_FILE) -> None:
        self.path = Path(root) / name
        self.root = Path(root)
        self.depth = 0

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise read_only_error(self.root, exc.errno) from None
            raise atomic.disk_error(exc, self.path) from None

    @contextmanager
    def hold(self, on_acquire: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the lock; `on_acquire` runs once it is taken (recovery of interrupted work)."""
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        fd = self._open()  # unbuffered: a failed write on a full disk is not retried by close()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise ProjectLockedError(f"{self.root} is being changed by {owner}",
                                     "wait for it to finish, or close the other earshot") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"earshot pid {os.getpid()}".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise atomic.disk_error(exc, self.path) from None
        self.depth = 1
        try:
            if on_acquire is not None:
                on_acquire()
            yield
        finally:
            self.depth = 0
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
