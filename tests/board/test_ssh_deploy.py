"""`earshot deploy` against a real OpenSSH server: copying, verifying, switching, and every failure line."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from core.deploy.linux_ssh import SshTarget
from earshot.cli import main as earshot_main
from tests.board.conftest import remount, synthetic_bundle
from tests.fixtures.sshd import SshBoard, keygen

pytestmark = pytest.mark.hardware


def deploy(board: SshBoard, *args: str, config: Path | None = None) -> list[str]:
    return ["deploy", *args, "-F", str(config or board.config), "--timeout", "3"]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = earshot_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("earshot: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("url", "expected"), [
    ("ssh://pi@raspberrypi.local", SshTarget("raspberrypi.local", "pi", None, "earshot")),
    ("ssh://root@10.1.2.3:2222/opt/ears", SshTarget("10.1.2.3", "root", 2222, "/opt/ears")),
    ("ssh://MyBoard/~/models/words", SshTarget("MyBoard", None, None, "models/words")),
    ("pi@[fe80::1]:22", SshTarget("fe80::1", "pi", 22, "earshot")),
])
def test_ssh_addresses(url: str, expected: SshTarget) -> None:
    assert SshTarget.parse(url) == expected


def test_bad_addresses_say_how_to_write_one() -> None:
    from core.errors import DeployError

    for url, words in (("http://pi", "not an SSH address"), ("ssh://pi:99999", "bad port"),
                       ("ssh:///path", "no board")):
        with pytest.raises(DeployError, match=words):
            SshTarget.parse(url)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_deploy_copies_verifies_and_switches_atomically(
        sshd_board: SshBoard, board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = synthetic_bundle(tmp_path / "a.zip", seed=1)
    code, out, err = run(capsys, deploy(sshd_board, str(first), sshd_board.url(board_folder), "--json"))
    assert code == 0, err
    result = json.loads(out)
    current = board_folder / "current"
    assert current.is_symlink() and os.readlink(current) == f"releases/{result['release']}"
    with zipfile.ZipFile(first) as archive:
        expected = {n: archive.read(n) for n in archive.namelist()
                    if n not in ("model.keras", "model_int8.h", "model_int8.cc")}
    assert files_of(current) == expected
    assert sorted(result["copied"]) == sorted(expected)
    assert (current / "predict.py").stat().st_mode & 0o111 and current.resolve().owner() == "earshot-board"
    config = board_folder / "listen.json"
    assert config.stat().st_mode & 0o077 == 0  # it may hold the broker password

    code, out, _ = run(capsys, deploy(sshd_board, str(first), sshd_board.url(board_folder), "--json"))
    again = json.loads(out)
    assert code == 0 and again["unchanged"] and again["copied"] == []
    assert again["release"] == result["release"]

    leftover = board_folder / "releases" / ".incoming-999"  # as an interrupted deploy leaves it
    leftover.mkdir()
    os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    running = board_folder / "releases" / ".incoming-998"  # another deploy copying right now: kept
    running.mkdir()
    releases = [result["release"]]
    for seed in (2, 3):
        model = synthetic_bundle(tmp_path / f"{seed}.zip", seed=seed)
        code, out, _ = run(capsys, deploy(sshd_board, str(model), sshd_board.url(board_folder), "--json"))
        assert code == 0
        releases.append(json.loads(out)["release"])
    assert len(set(releases)) == 3
    assert os.readlink(current) == f"releases/{releases[-1]}"
    kept = sorted(p.name for p in (board_folder / "releases").iterdir() if not p.name.startswith("."))
    assert kept == sorted(releases[-2:])  # the current model and the one before it
    assert not leftover.exists() and running.exists()


def test_the_report_names_missing_packages_and_the_pip_line(
        sshd_board: SshBoard, board_folder: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The board's /usr/bin/python3 is Debian's, without numpy and friends: exactly a fresh board.
    url = sshd_board.url(board_folder)
    code, out, err = run(capsys, deploy(sshd_board, str(bundle), url, "--push", "mqtt://10.0.0.2/siot/w"))
    assert code == 0, err
    line = next(line for line in out.splitlines() if "lacks" in line)
    assert "numpy, ai-edge-litert, sounddevice, paho-mqtt" in line
    # Debian 12 refuses system-wide pip: the line makes a venv in the deploy folder, which deploy then uses.
    venv = board_folder / "venv"
    assert (f"python3 -m venv --system-site-packages {venv} && {venv}/bin/pip install "
            "numpy ai-edge-litert sounddevice paho-mqtt") in line

    code, _, err = run(capsys, deploy(sshd_board, str(bundle), url, "--service"))
    assert code == 1
    line = error_line(err)
    assert "the model is on the board but it lacks numpy, ai-edge-litert, sounddevice" in line
    assert "pip install" in line and "--install" in line
    assert (board_folder / "current" / "predict.py").is_file()


def test_a_key_the_board_refuses_says_how_to_set_one_up(sshd_board: SshBoard, bundle: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    keygen(tmp_path / "other_key")
    config = tmp_path / "config"
    config.write_text(sshd_board.config.read_text().replace(str(sshd_board.key), str(tmp_path / "other_key")))
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), sshd_board.url("x"), config=config))
    assert code == 1
    line = error_line(err)
    assert "earshot-board refused the SSH login" in line
    assert "ssh-copy-id earshot-board" in line and "ssh-keygen -t ed25519" in line


def test_a_wrong_port_is_refused(sshd_board: SshBoard, bundle: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures.sshd import free_port

    port = free_port()
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), f"ssh://earshot-board@127.0.0.1:{port}/x"))
    assert code == 1
    assert f"127.0.0.1:{port} refuses SSH connections" in error_line(err)


def test_a_board_that_does_not_answer_or_does_not_exist(sshd_board: SshBoard, bundle: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # A board that accepts the connection and then hangs (as a frozen board or a busy Wi-Fi does).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        code, _, err = run(capsys, deploy(sshd_board, str(bundle), f"ssh://pi@127.0.0.1:{port}/x"))
        assert time.monotonic() - started < 15  # --timeout 3, not ssh's two minutes
    assert code == 1 and f"cannot reach 127.0.0.1:{port}" in error_line(err)
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), "ssh://pi@no-such-board.invalid/x"))
    assert code == 1 and "cannot find the board 'no-such-board.invalid'" in error_line(err)


def test_a_read_only_folder(sshd_board: SshBoard, bundle: Path, tmpfs_on_board: Callable[..., Path],
                            capsys: pytest.CaptureFixture[str]) -> None:
    point = tmpfs_on_board("size=4m,ro")
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), sshd_board.url(point / "words")))
    assert code == 1
    assert f"{point}/words is on a read-only file system" in error_line(err)


def test_a_folder_the_user_cannot_write(sshd_board: SshBoard, bundle: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), sshd_board.url("/root/earshot")))
    assert code == 1 and "no permission to write" in error_line(err)


def test_a_full_disk_is_found_before_copying(sshd_board: SshBoard, bundle: Path,
                                             tmpfs_on_board: Callable[..., Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    point = tmpfs_on_board("size=64k")
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), sshd_board.url(point)))
    assert code == 1
    line = error_line(err)
    assert f"the board's disk is full at earshot-board:{point}" in line, line
    assert "KB free, the model needs" in line
    assert not (point / "releases").exists()


def test_a_disk_that_fills_up_while_copying_keeps_the_running_model(
        sshd_board: SshBoard, tmp_path: Path, tmpfs_on_board: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    point = tmpfs_on_board("size=8m,nr_inodes=100")
    first = synthetic_bundle(tmp_path / "a.zip", seed=1)
    code, out, err = run(capsys, deploy(sshd_board, str(first), sshd_board.url(point), "--json"))
    assert code == 0, err
    before = os.readlink(point / "current")
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (point / "current").iterdir()}
    # Space is left (df shows megabytes) but no room for new files: tar fails with ENOSPC half-way.
    used = int(subprocess.run(["df", "--output=iused", str(point)], capture_output=True, text=True,
                              check=True).stdout.split()[-1])
    remount(point, f"nr_inodes={used + 4}")
    second = synthetic_bundle(tmp_path / "b.zip", seed=2)
    code, _, err = run(capsys, deploy(sshd_board, str(second), sshd_board.url(point)))
    assert code == 1
    assert "the board's disk is full" in error_line(err)
    assert os.readlink(point / "current") == before
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (point / "current").iterdir()}
    assert after == digests
    assert not [p for p in (point / "releases").iterdir() if p.name.startswith(".")]  # no half copy left


def test_no_python_or_an_old_one(sshd_board: SshBoard, bundle: Path, board_folder: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    url = sshd_board.url(board_folder)
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), url, "--python", "/opt/no-python3"))
    assert code == 1
    line = error_line(err)
    assert "no Python at '/opt/no-python3'" in line and "apt-get install python3" in line
    # An interpreter that reports 3.5 (what Debian 9 images have): nothing is copied.
    old = board_folder / "python3.5"
    old.write_text("#!/bin/sh\necho 'EARSHOT-PROBE {\"version\": [3, 5, 3], \"modules\": {}}'\n")
    old.chmod(0o755)
    code, _, err = run(capsys, deploy(sshd_board, str(bundle), url, "--python", str(old)))
    assert code == 1
    assert "is Python 3.5.3; the model needs 3.7 or later" in error_line(err)
    assert not (board_folder / "releases").exists()


def test_status_and_stop_with_nothing_deployed(sshd_board: SshBoard,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = sshd_board.url("never-deployed-here")
    code, out, _ = run(capsys, ["deploy", "--status", url, "-F", str(sshd_board.config)])
    assert code == 0 and out.startswith("nothing deployed at ")
    code, out, _ = run(capsys, ["deploy", "--stop", url, "-F", str(sshd_board.config), "--json"])
    assert code == 0 and json.loads(out)["stopped"] is False


def test_not_an_export(sshd_board: SshBoard, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    code, _, err = run(capsys, deploy(sshd_board, str(tmp_path / "junk.zip"), sshd_board.url("x")))
    assert code == 1 and "cannot read the model" in error_line(err)


def test_a_broker_at_localhost_is_pointed_out(sshd_board: SshBoard, board_folder: Path, bundle: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, deploy(sshd_board, str(bundle), sshd_board.url(board_folder),
                                      "--push", "mqtt://localhost/siot/w"))
    assert code == 0
    assert "note: the broker address localhost means the board itself" in out


def test_a_stale_pid_file_is_not_a_running_listener(sshd_board: SshBoard, board_folder: Path, bundle: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """After a reboot the recorded pid may belong to another process: status must not call it listening."""
    url = sshd_board.url(board_folder)
    assert run(capsys, deploy(sshd_board, str(bundle), url))[0] == 0
    # Alive, the board user's (so kill -0 works on it), but not a listener.
    other = subprocess.Popen(["sleep", "60"], user=sshd_board.user.pw_uid, group=sshd_board.user.pw_gid)
    try:
        (board_folder / "listener").write_text(f"mode=process\nunit=\npid={other.pid}\nstate=started\n")
        code, out, _ = run(capsys, ["deploy", "--status", url, "-F", str(sshd_board.config), "--json"])
        assert code == 0 and json.loads(out)["running"] is False
        code, out, _ = run(capsys, ["deploy", "--stop", url, "-F", str(sshd_board.config), "--json"])
        assert json.loads(out)["stopped"] is False and other.poll() is None  # not killed either
    finally:
        other.kill()
        other.wait()
