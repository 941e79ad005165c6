"""The project's write lock: one writing process at a time, refused at once (never waited for).
Within one process, one thread at a time: another thread (a model save during an Upload) waits for it,
then is refused the same way; the main thread (a UI's event loop) only briefly, so it never freezes.

`flock` on `.earshot.lock` (released by the kernel when the holder dies, so a kill -9 never leaves a
stale lock); the file holds the holder's pid for the message the next process shows. A read-only
project or a full disk is reported here, before any work starts.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core import atomic
from core.errors import ProjectError, ProjectLockedError
from core.projectfile import LOCK_FILE

THREAD_WAIT_SECONDS = 30.0  # how long a worker thread waits for another thread of this process
MAIN_THREAD_WAIT_SECONDS = 1.0  # how long the main thread waits (in the app it draws the screen)
READ_ONLY_HINT = "copy it to a writable folder; info, predict, listen and export -o still work"


def read_only_error(root: Path, code: int | None = errno.EROFS) -> ProjectError:
    """A project that can be read but not changed: a read-only file system, or no write permission."""
    if code == errno.EROFS:
        return ProjectError(f"{root} is read-only (a read-only file system): it cannot be changed",
                            READ_ONLY_HINT)
    return ProjectError(f"{root} is read-only for you (no write permission): it cannot be changed",
                        READ_ONLY_HINT)


class ProjectLock:
    """Re-entrant within one thread: its nested `hold()`s share the first one's lock."""

    def __init__(self, root: Path, name: str = LOCK_FILE, *,
                 wait_seconds: float | None = None) -> None:
        self.path = Path(root) / name
        self.root = Path(root)
        self.depth = 0  # nesting of the thread that holds `_owner` (only that thread touches it)
        self.wait_seconds = wait_seconds  # None: by thread (THREAD_WAIT_SECONDS, MAIN_THREAD_WAIT_SECONDS)
        self._owner = threading.RLock()

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
        if not self._owner.acquire(timeout=self._deadline()):
            raise ProjectLockedError(f"{self.root} is being changed by another task of this earshot",
                                     "wait for it to finish, then try again")
        try:
            with self._hold_file(on_acquire):
                yield
        finally:
            self._owner.release()

    def _deadline(self) -> float:
        if self.wait_seconds is not None:
            return self.wait_seconds
        if threading.current_thread() is threading.main_thread():
            return MAIN_THREAD_WAIT_SECONDS
        return THREAD_WAIT_SECONDS

    @contextmanager
    def _hold_file(self, on_acquire: Callable[[], None] | None) -> Iterator[None]:
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
