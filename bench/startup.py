"""Time from `earshot tui DIR` to its first screen, in a real pseudo-terminal (80x24, xterm-256color).

    python -m bench startup [--runs N]

Starts the app on a small project (and once with no project: the Project tab), reads the terminal
output until the first screen's text appears, quits with ctrl+q, and reports the time to first
screen (wall clock, and CPU time, which is what it takes on an idle machine) and
whether TensorFlow was imported at startup (it must not be).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from bench.common import REPO, record

EARSHOT = Path(sys.executable).parent / "earshot"
TIMEOUT = 30.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_first_screen(args: list[str], marker: bytes, cwd: Path,
                         env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds until `marker` is drawn by `earshot ARGS` in an 80x24 pty; then quit it.

    On a loaded machine the wall time includes waiting for a CPU; the CPU time is what the app
    itself needs, which is the wall time on an idle machine."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen([str(EARSHOT), *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                               env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        while time.perf_counter() - started < TIMEOUT:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if marker in seen:
                    elapsed = time.perf_counter() - started
                    cpu = cpu_seconds(process.pid)
                    break
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)
    if elapsed != elapsed:
        raise RuntimeError(f"the first screen ({marker!r}) did not appear within {TIMEOUT} s")
    return elapsed, cpu


def heavy_modules_at_startup(project: Path) -> list[str]:
    code = (
        "import asyncio, sys\nfrom pathlib import Path\nfrom tui.app import EarshotApp\n"
        "async def main():\n"
        f"    async with EarshotApp(Path({str(project)!r})).run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause()\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras', 'librosa'}))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    return eval(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else ["<failed>"]  # noqa: S307


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from core.project import Project

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = work / "bench-project"
        Project.create(project, name="bench").add_class("yes")
        env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(work / "config"),
               "XDG_CACHE_HOME": str(work / "cache")}
        load = os.getloadavg()[0]
        with_project = [time_to_first_screen(["tui", str(project)], b"Classes", work, env)
                        for _ in range(args.runs)]
        empty = [time_to_first_screen(["tui"], b"Recent projects", work, env) for _ in range(args.runs)]
        heavy = heavy_modules_at_startup(project)
    wall = [w for w, _ in with_project]
    cpu = [c for _, c in with_project]
    results = {
        "runs": args.runs,
        "load_average_at_start": round(load, 2),
        "first_screen_seconds_median": round(statistics.median(wall), 3),
        "first_screen_seconds_min": round(min(wall), 3),
        "first_screen_cpu_seconds_median": round(statistics.median(cpu), 3),
        "project_tab_seconds_median": round(statistics.median([w for w, _ in empty]), 3),
        "project_tab_cpu_seconds_median": round(statistics.median([c for _, c in empty]), 3),
        "heavy_modules_at_startup": heavy,
        "goal_seconds": 1.0,
        "meets_goal": statistics.median(cpu) < 1.0 and not heavy,
    }
    record("startup", results)
    return 0 if results["meets_goal"] else 1
