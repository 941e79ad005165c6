"""Atomic file writes: a temp file beside the target, fsync, rename, fsync the folder."""

from __future__ import annotations

import errno
import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from core.errors import EarshotError

CRASH_ENV = "EARSHOT_CRASH_AT"
_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Let the fault tests kill this process with SIGKILL at a named step of a multi-step commit.

    `EARSHOT_CRASH_AT=NAME` kills at the first time NAME is reached, `NAME:N` at the N-th time;
    `EARSHOT_CRASH_SIGNAL=INT` sends SIGINT instead (Ctrl-C at that step). Only tests set these;
    without them this does nothing.
    """
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] >= int(nth or 1):
        chosen = os.environ.get("EARSHOT_CRASH_SIGNAL", "KILL")
        os.kill(os.getpid(), signal.SIGINT if chosen == "INT" else signal.SIGKILL)


def fsync_dir(path: Path) -> None:
    """Make renames into the folder `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it replaces `target` atomically."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.close(fd)
    except OSError as exc:
        raise disk_error(exc, target) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise disk_error(exc, target) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_with(target: Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Write `target` atomically through `writer(binary_file)`."""
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        writer(handle)


def disk_error(exc: OSError, target: Path) -> EarshotError:
    """Turn an OSError from a write into a one-line error that says what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return EarshotError(f"disk full while writing {target}", "free some space and try again")
    if exc.errno == errno.EROFS:
        return EarshotError(f"cannot write {target}: the file system is read-only",
                            "copy the project to a writable folder, or write the output elsewhere")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return EarshotError(f"cannot write {target}: permission denied",
                            "check the folder's owner and permissions, or write the output elsewhere")
    return EarshotError(f"cannot write {target}: {exc.strerror or exc}", "check the disk and try again")


def check_writable(folder: Path, *, need_bytes: int = 1 << 20) -> None:
    """Before long work: refuse at once when `folder` (created if missing) cannot be written or has less
    than `need_bytes` free, instead of failing at the end. Writes and removes a small probe file."""
    folder = Path(folder)
    probe = folder / f".earshot-probe-{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
        stats = os.statvfs(folder)
        free = stats.f_bavail * stats.f_frsize
        if free < need_bytes:
            raise EarshotError(f"only {free / 1e6:.1f} MB free on the disk holding {folder} "
                               f"({need_bytes / 1e6:.0f} MB needed)", "free some space and try again")
    except OSError as exc:
        raise disk_error(exc, folder) from exc
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass


def sync_filesystem(path: Path) -> None:
    """Flush every written file on `path`'s filesystem to disk (syncfs; sync where unavailable).

    One call instead of an fsync per file, for batches that are staged and then renamed into place.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()

