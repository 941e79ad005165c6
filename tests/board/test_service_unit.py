"""The systemd side of the listener: which way it is started, and a unit file systemd accepts.

systemd does not run in this container, so the unit is checked by `systemd-analyze verify` (systemd's
own parser, which also checks that the program exists) rather than by starting it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from core.deploy.linux import BoardInfo
from core.deploy.linux_service import ListenOptions, choose_mode, unit_name, unit_text

BOARD = BoardInfo(home="/home/pi", folder="/home/pi/earshot", user="pi", uid=1000, systemd=True,
                  user_systemd=True, writable=True, write_error="", free_kb=10_000, python="/usr/bin/python3",
                  python_version=(3, 11, 2), modules={})


def test_root_gets_a_system_unit_a_user_a_user_unit_and_no_systemd_a_process() -> None:
    assert choose_mode(replace(BOARD, uid=0)) == ("system", "")
    assert choose_mode(BOARD) == ("user", "")
    mode, note = choose_mode(replace(BOARD, user_systemd=False))
    assert mode == "process" and "sudo loginctl enable-linger pi" in note
    mode, note = choose_mode(replace(BOARD, systemd=False))
    assert mode == "process" and "will not start again after a reboot" in note


def test_unit_names() -> None:
    assert unit_name("/home/pi/earshot", "/home/pi") == "earshot.service"
    assert unit_name("/home/pi/models/door bell", "/home/pi") == "earshot-models-door-bell.service"
    assert unit_name("/opt/ears", "/root") == "earshot-opt-ears.service"


def test_listen_json_keeps_what_the_listener_needs() -> None:
    push = {"host": "10.0.0.2", "port": 1883, "username": "siot", "password": "dfrobot", "topic": "siot/w"}
    config = json.loads(ListenOptions(push=push, threshold=0.7, env={"A": "b"}).config())
    assert config == {"push": push, "threshold": 0.7}  # env goes to the unit or the process, not here


@pytest.mark.parametrize("mode", ["system", "user"])
def test_systemd_accepts_the_unit(tmp_path: Path, mode: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    folder = tmp_path / "my models"  # a space, quoted in ExecStart
    (folder / "current").mkdir(parents=True)
    (folder / "current" / "predict.py").write_text("")
    python = shutil.which("python3") or "/usr/bin/python3"
    info = replace(BOARD, folder=str(folder), home=str(tmp_path))
    env = {"PULSE_SERVER": "unix:/run/user/1000/pulse/native", "NOTE": 'say "hi"'}
    text = unit_text(info, mode, python, ListenOptions(env=env))
    script, config = f'"{folder}/current/predict.py"', f'"{folder}/listen.json"'
    assert f"ExecStart={python} {script} --listen --config {config}" in text
    assert "WantedBy=default.target" in text if mode == "user" else "WantedBy=multi-user.target" in text
    unit = tmp_path / "earshot.service"
    unit.write_text(text)
    # Verified as a system unit: a user manager cannot start without systemd running as PID 1.
    check = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in check.stderr.splitlines() if "earshot.service" in line]
    assert check.returncode == 0 and not problems, check.stderr


def test_a_long_wait_for_the_listener_outlasts_the_ssh_call() -> None:
    """--wait 200 must not be cut by run()'s default 120 s timeout (a false "stopped answering")."""
    from types import SimpleNamespace

    from core.deploy.linux_service import SH_WAIT, start_listener
    from core.deploy.linux_ssh import RemoteResult

    timeouts: dict[str, float] = {}

    class Session:  # records each script's timeout; answers as a board whose listener starts
        target = SimpleNamespace(host="pi", path="/home/pi/earshot")

        def run(self, script: str, *args: str, stdin: bytes | None = None, timeout: float = 120,
                check: bool = True) -> RemoteResult:
            timeouts[script] = timeout
            return RemoteResult(0, b"state=listening\npid=42\n" if script == SH_WAIT else b"", "")

    started = start_listener(Session(), replace(BOARD, systemd=False), "python3",  # type: ignore[arg-type]
                             ListenOptions(), wait=200)
    assert started.pid == 42 and started.mode == "process"
    assert timeouts[SH_WAIT] >= 200 + 30
