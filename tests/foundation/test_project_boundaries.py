"""Where the project meets other writers: threads of one process, a second window, repeated removals."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from core.errors import ProjectLockedError
from core.project import LOCK_FILE
from core.projectlock import ProjectLock


def _file_lock_is_held(root: Path) -> bool:
    """Whether some open file holds the flock on the project's lock file (tried from a fresh fd)."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_thread_that_overlaps_another_gets_its_own_file_lock(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path)
    a_in, b_trying, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with lock.hold():
            a_in.set()
            b_trying.wait(5)
            time.sleep(0.2)  # B asks while A holds; A leaves first
        a_out.set()

    def second() -> None:
        a_in.wait(5)
        b_trying.set()
        with lock.hold():
            a_out.wait(5)  # before the fix, B nested in A's hold and A's exit dropped the file lock
            seen["b holds the file lock"] = _file_lock_is_held(tmp_path)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"b holds the file lock": True}
    assert lock.depth == 0 and not _file_lock_is_held(tmp_path)
    acquired: list[bool] = []
    with lock.hold(on_acquire=lambda: acquired.append(True)):  # a later hold is a real one again
        assert _file_lock_is_held(tmp_path)
    assert acquired == [True]


def test_a_thread_waits_for_the_lock_at_most_its_deadline(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path, wait_seconds=0.2)
    a_in, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.hold():
            a_in.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        a_in.wait(5)
        started = time.monotonic()
        with pytest.raises(ProjectLockedError, match="another task"):
            with lock.hold():
                pass
        assert 0.15 < time.monotonic() - started < 2
    finally:
        release.set()
        thread.join(5)
    with lock.hold():  # free again once the holder is done
        assert lock.depth == 1
