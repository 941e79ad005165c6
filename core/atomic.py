"""Atomic file writes: a temp file beside the target, fsync, rename, fsync the folder."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from core.errors import EarshotError


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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    os.close(fd)
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
    if exc.errno == errno.ENOSPC:
        return EarshotError(f"disk full while writing {target}", "free some space and try again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return EarshotError(f"cannot write {target}: permission denied", "check the folder's owner")
    return EarshotError(f"cannot write {target}: {exc.strerror or exc}")


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

