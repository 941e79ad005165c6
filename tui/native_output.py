"""Keep native libraries' prints off the screen while the app runs.

TensorFlow and PortAudio write to file descriptors 1 and 2 from C++, which would tear the app's
screen. While the app runs, Textual writes to a duplicate of the terminal's descriptor and 1 and 2
point at a log file instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def log_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "earshot" / "native-output.log"


@contextmanager
def native_output_to_log(path: Path | None = None) -> Iterator[Path | None]:
    """Send fd 1 and 2 to a log file; sys.__stdout__/__stderr__ keep writing to the terminal."""
    if not (sys.__stderr__ and sys.__stdout__ and sys.__stderr__.isatty()):
        yield None
        return
    path = path or log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        yield None
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr)
    terminal_out, terminal_err = os.dup(1), os.dup(2)
    out = open(terminal_out, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    err = open(terminal_err, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr = out, err, out, err  # type: ignore[misc]
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield path
    finally:
        out.flush()
        err.flush()
        os.dup2(terminal_out, 1)
        os.dup2(terminal_err, 2)
        sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr = saved  # type: ignore[misc]
        for fd in (terminal_out, terminal_err, log_fd):
            os.close(fd)
