"""Flashing against real MicroPython (the WebAssembly port behind a pty), including failure paths."""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from core.deploy.flash import BoardConfig, FlashProgress, deployable_files, flash_files
from core.errors import DeployError
from earshot.cli import main as earshot_main

pytestmark = pytest.mark.hardware
LABELS = ["Background Noise", "yes", "no"]


def model_zip(path: Path, *, model_bytes: int = 40_000, labels: list[str] = LABELS) -> Path:
    """A zip shaped like an export (the flash only copies bytes, so the model can be random)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model_int8.tflite", os.urandom(model_bytes))
        archive.writestr("labels.txt", "\n".join(labels) + "\n")
        archive.writestr("metadata.json", json.dumps({"project": "words", "labels": labels}))
    return path


def read_back(port: str, paths: list[str]) -> dict[str, bytes | None]:
    """Read files from the board with mpremote (an independent client), None for missing ones."""
    from mpremote.transport_serial import SerialTransport

    transport = SerialTransport(port, baudrate=115200, timeout=5)
    try:
        transport.enter_raw_repl()
        out: dict[str, bytes | None] = {}
        for path in paths:
            out[path] = bytes(transport.fs_readfile(path)) if transport.fs_exists(path) else None
        transport.exit_raw_repl()
        return out
    finally:
        transport.close()


def board_exec(port: str, code: str) -> str:
    from mpremote.transport_serial import SerialTransport

    transport = SerialTransport(port, baudrate=115200, timeout=5)
    try:
        transport.enter_raw_repl()
        out = transport.exec(code).decode()
        transport.exit_raw_repl()
        return out
    finally:
        transport.close()


def test_flash_copies_files_intact_and_skips_them_next_time(micropython_board: str, tmp_path: Path) -> None:
    files = deployable_files(model_zip(tmp_path / "m.zip"), BoardConfig(dir="/home"))
    steps: list[FlashProgress] = []
    first = flash_files(files, micropython_board, remote_dir="/home", on_progress=steps.append)
    assert first.written == ["model_int8.tflite", "labels.txt", "metadata.json", "main.py"]
    assert first.bytes_written == sum(len(data) for data in files.values())
    writing = [s.done_bytes for s in steps if s.step == "writing"]
    assert writing == sorted(writing) and writing[-1] == first.bytes_written
    on_board = read_back(micropython_board, [f"/home/{name}" for name in files] + ["/home/main.py.part"])
    assert {name: on_board[f"/home/{name}"] for name in files} == files
    assert on_board["/home/main.py.part"] is None

    second = flash_files(files, micropython_board, remote_dir="/home")
    assert second.written == [] and second.skipped == list(files)

    changed = deployable_files(model_zip(tmp_path / "m2.zip", labels=["Background Noise", "up"]),
                               BoardConfig(dir="/home"))
    changed["model_int8.tflite"] = files["model_int8.tflite"]
    third = flash_files(changed, micropython_board, remote_dir="/home")
    assert third.written == ["labels.txt", "metadata.json", "main.py"]
    assert read_back(micropython_board, ["/home/labels.txt"])["/home/labels.txt"] == b"Background Noise\nup\n"


def test_generated_main_compiles_and_handles_labels_on_micropython(micropython_board: str,
                                                                   tmp_path: Path) -> None:
    config = BoardConfig.from_mqtt_url("mqtt://siot:dfrobot@192.0.2.1:1883/words/device", dir="/home")
    files = deployable_files(model_zip(tmp_path / "m.zip"), config)
    flash_files(files, micropython_board, remote_dir="/home")
    hooks = "seen = []\ndef on_label(label, confidence):\n    seen.append((label, confidence))\n"
    code = (
        "import sys\nsys.path.insert(0, '/home')\n"
        f"f = open('/home/earshot_hooks.py', 'w')\nf.write({hooks!r})\nf.close()\n"
        "import main, earshot_hooks\n"
        "print(main.CONFIG['broker'], main.CONFIG['topic'], main.CONFIG['dir'])\n"
        "r = main.Reactor(main.load_labels())\n"
        "r.handle(b'words/device', b'{\"label\": \"yes\", \"confidence\": 0.91, \"scores\": {}}')\n"
        "r.handle(b'words/device', b'no')\n"
        "r.handle(b'words/device', b'maybe')\n"
        "r.handle(b'words/device', b'{broken')\n"
        "print(earshot_hooks.seen, r.count, r.last)\n"
    )
    out = board_exec(micropython_board, code)
    lines = [line.strip() for line in out.strip().splitlines()]
    assert lines[0] == "192.0.2.1 words/device /home"
    assert "earshot: yes 0.91" in lines and "earshot: no" in lines
    assert "earshot: ignored unknown label 'maybe'" in lines
    assert any(line.startswith("earshot: ignored a message that is not a label") for line in lines)
    assert lines[-1] == "[('yes', 0.91), ('no', None)] 2 no"


def test_flash_command_prints_summary_and_json(micropython_board: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    zip_path = model_zip(tmp_path / "m.zip", model_bytes=8000)
    command = ["flash", str(zip_path), "--port", micropython_board, "--dir", "/home"]
    assert earshot_main(command) == 0
    assert "4 written, 0 up to date" in capsys.readouterr().out
    assert earshot_main([*command, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["written"] == [] and len(result["skipped"]) == 4


def test_full_board_fails_clearly_and_leaves_no_partial_file(start_board: Callable[..., str],
                                                            tmp_path: Path) -> None:
    port = start_board(capacity=20_000)
    files = deployable_files(model_zip(tmp_path / "m.zip", model_bytes=30_000), BoardConfig(dir="/home"))
    with pytest.raises(DeployError, match="board is full") as info:
        flash_files(files, port, remote_dir="/home")
    assert "delete files" in (info.value.hint or "")
    left = read_back(port, ["/home/model_int8.tflite", "/home/model_int8.tflite.part"])
    assert left == {"/home/model_int8.tflite": None, "/home/model_int8.tflite.part": None}


def test_disconnect_mid_transfer_never_leaves_a_half_file_under_the_real_name(
        start_board: Callable[..., str], tmp_path: Path) -> None:
    dump = tmp_path / "board-files"
    port = start_board(die_after=25_000, dump=dump)
    files = deployable_files(model_zip(tmp_path / "m.zip", model_bytes=40_000), BoardConfig(dir="/home"))
    with pytest.raises(DeployError, match="lost the connection|did not answer") as info:
        flash_files(files, port, remote_dir="/home", timeout=3)
    assert "flash again" in (info.value.hint or "") or "try again" in (info.value.hint or "")
    deadline = time.monotonic() + 5
    while not (dump / "home").is_dir() and time.monotonic() < deadline:
        time.sleep(0.05)
    held = sorted(p.name for p in (dump / "home").iterdir())
    assert "model_int8.tflite.part" in held  # the transfer really was cut in the middle
    assert 0 < (dump / "home" / "model_int8.tflite.part").stat().st_size < 40_000
    assert "model_int8.tflite" not in held and "main.py" not in held


def test_board_that_never_answers_times_out_with_advice(tmp_path: Path) -> None:
    master, slave = os.openpty()
    port = os.ttyname(slave)
    try:
        started = time.monotonic()
        with pytest.raises(DeployError, match="did not answer") as info:
            flash_files({"labels.txt": b"a\n"}, port, timeout=1.0)
        assert time.monotonic() - started < 10
        assert "Ctrl-C" in (info.value.hint or "")
    finally:
        os.close(master)
        os.close(slave)


def test_port_that_vanishes_while_waiting_is_reported_as_lost(tmp_path: Path) -> None:
    master, slave = os.openpty()
    port = os.ttyname(slave)
    os.close(slave)
    closer = threading.Timer(0.5, os.close, args=(master,))
    closer.start()
    try:
        with pytest.raises(DeployError, match="lost the connection|did not answer"):
            flash_files({"labels.txt": b"a\n"}, port, timeout=3.0)
    finally:
        closer.join()


def test_busy_and_missing_ports_say_what_to_do(micropython_board: str) -> None:
    from core.deploy.serial import open_port

    held = open_port(micropython_board)
    try:
        with pytest.raises(DeployError, match="busy") as info:
            open_port(micropython_board)
        assert "close the other" in (info.value.hint or "")
    finally:
        held.close()
    with pytest.raises(DeployError, match="no serial port") as missing:
        open_port("/dev/ttyEARSHOT-NOPE")
    assert "earshot devices" in (missing.value.hint or "")


def test_cancel_stops_between_blocks_and_keeps_the_old_file(micropython_board: str, tmp_path: Path) -> None:
    old = deployable_files(model_zip(tmp_path / "old.zip", model_bytes=5_000), BoardConfig(dir="/home"))
    flash_files(old, micropython_board, remote_dir="/home")
    new = deployable_files(model_zip(tmp_path / "new.zip", model_bytes=30_000), BoardConfig(dir="/home"))
    cancel = threading.Event()

    def progress(step: FlashProgress) -> None:
        if step.step == "writing" and step.done_bytes >= 4_000:
            cancel.set()

    with pytest.raises(DeployError, match="cancelled"):
        flash_files(new, micropython_board, remote_dir="/home", on_progress=progress, cancel=cancel)
    held = read_back(micropython_board, ["/home/model_int8.tflite"])
    assert held["/home/model_int8.tflite"] == old["model_int8.tflite"]
