"""Running earshot as a separate process, and what "the project is unchanged" means byte for byte."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: object, env: dict[str, str] | None = None, timeout: float = 120,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m earshot ARGS` in a fresh process (this checkout first on the path)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("EARSHOT_")}
    environ.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run([sys.executable, "-m", "earshot", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=environ, input=stdin)


def python(code: str, *, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a snippet in a fresh process that imports this checkout's core."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=environ)


def snapshot(root: Path) -> dict[str, str]:
    """Every file, folder and symlink under `root` -> its content hash (or link target); the lock file
    is left out (holding the lock is not a change)."""
    state: dict[str, str] = {}
    for path in sorted(Path(root).rglob("*")):
        rel = str(path.relative_to(root))
        if path.name == ".earshot.lock":
            continue
        if path.is_symlink():
            state[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            state[rel] = "dir"
        elif path.is_file():
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[rel] = "special"
    return state


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str, code: int = 1) -> None:
    """Exit code, exactly one `earshot: error:` line on stderr with a hint in parentheses, no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert "Traceback" not in output, output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("earshot: error: "), done.stderr
    assert lines[0].endswith(")") and " (" in lines[0], done.stderr  # the hint says what to do
    for word in words:
        assert word in lines[0], lines[0]
