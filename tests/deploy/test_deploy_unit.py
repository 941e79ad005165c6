"""Fast checks of the deploy pieces without a board: port errors, the raw REPL on loop://, main.py."""

from __future__ import annotations

import errno
import json
import re
import zipfile
from pathlib import Path

import pytest

from core.deploy import board_main
from core.deploy.flash import BoardConfig, deployable_files, render_main
from core.deploy.serial import BoardExecError, RawRepl, list_serial_ports, open_port, port_error
from core.errors import DeployError


class ScriptedBoard:
    """A Link double that speaks the raw REPL like a board, replaying canned output per command.

    `paste`: "yes" (raw-paste with a `window`-byte flow control window), "no" (answers R\\x00) or
    "old" (firmware that predates raw-paste and just prints the raw banner again).
    """

    def __init__(self, outputs: list[tuple[bytes, bytes]], *, paste: str = "no", window: int = 16) -> None:
        self.outputs = outputs
        self.paste, self.window = paste, window
        self.raw = self.pasting = False
        self.line = bytearray()
        self.pending = bytearray()
        self.codes: list[bytes] = []
        self.granted = self.received = 0

    def _run(self) -> None:
        self.codes.append(bytes(self.line))
        self.line.clear()
        out, err = self.outputs.pop(0)
        self.pending.extend(out + b"\x04" + err + b"\x04>")

    def _byte(self, byte: int) -> None:
        if self.pasting:
            if byte == 0x04:
                self.pasting = False
                self.pending.extend(b"\x04")
                self._run()
                return
            self.line.append(byte)
            self.received += 1
            assert self.received <= self.granted, "the host overran the raw-paste window"
            if self.received % self.window == 0:
                self.granted += self.window
                self.pending.extend(b"\x01")
            return
        if byte == 0x01 and (not self.raw or not self.line):
            self.raw = True
            self.line.clear()
            self.pending.extend(b"raw REPL; CTRL-B to exit\r\n>")
        elif not self.raw:
            return
        elif byte == 0x03:
            self.line.clear()
        elif byte == 0x04 and not self.line:
            self.pending.extend(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
        elif byte == 0x04:
            self.pending.extend(b"OK")
            self._run()
        else:
            self.line.append(byte)
            if bytes(self.line) == b"\x05A\x01":
                self.line.clear()
                if self.paste == "yes":
                    self.pasting = True
                    self.granted, self.received = self.window, 0
                    self.pending.extend(b"R\x01" + self.window.to_bytes(2, "little"))
                elif self.paste == "no":
                    self.pending.extend(b"R\x00")
                else:
                    self.pending.extend(b"raw REPL; CTRL-B to exit\r\n>")

    def write(self, data: bytes) -> int:
        for byte in data:
            self._byte(byte)
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data = bytes(self.pending[:size])
        del self.pending[:size]
        return data

    def close(self) -> None:
        pass


@pytest.mark.parametrize("paste", ["yes", "no", "old"])
def test_raw_repl_returns_output_and_raises_board_errors(paste: str) -> None:
    board = ScriptedBoard([(b"2\r\n", b""), (b"", b"Traceback (most recent call last):\r\n"
                                                b"OSError: [Errno 28] ENOSPC\r\n"), (b"ok", b"")],
                          paste=paste)
    repl = RawRepl(board, timeout=1, chunk_pause=0)
    repl.enter()
    assert repl.exec("print(1+1)") == b"2\r\n"
    assert repl.raw_paste is (paste == "yes")
    with pytest.raises(BoardExecError) as info:
        repl.exec("open('x','w').write('y')")
    assert info.value.errno == errno.ENOSPC
    long_code = "x = " + repr("a" * 300)
    assert repl.exec(long_code) == b"ok"
    assert board.codes == [b"print(1+1)", b"open('x','w').write('y')", long_code.encode()]


def test_board_exec_error_reads_numeric_and_named_errnos() -> None:
    assert BoardExecError("m", "OSError: 28\n").errno == 28
    assert BoardExecError("m", "Traceback\nOSError: [Errno 2] ENOENT\n").errno == errno.ENOENT
    assert BoardExecError("m", "Traceback\nNameError: name 'x' isn't defined\n").errno is None


def test_loopback_port_that_only_echoes_is_not_a_repl() -> None:
    link = open_port("loop://")
    repl = RawRepl(link, name="the loop", timeout=0.5, chunk_pause=0)
    with pytest.raises(DeployError, match="did not answer") as info:
        repl.enter()
    assert "Ctrl-C" in (info.value.hint or "")
    link.close()


@pytest.mark.parametrize(("code", "text", "expected"), [
    (errno.ENOENT, "could not open port /dev/ttyX: [Errno 2] No such file or directory", "no serial port"),
    (errno.EACCES, "could not open port /dev/ttyX: [Errno 13] Permission denied", "permission denied"),
    (errno.EAGAIN, "Could not exclusively lock port /dev/ttyX", "busy"),
    (errno.ENOTTY, "Inappropriate ioctl for device", "not a serial port"),
])
def test_port_errors_say_what_to_do(code: int, text: str, expected: str) -> None:
    error = port_error("/dev/ttyX", OSError(code, text))
    assert expected in error.message and error.hint
    if code == errno.EACCES:
        assert "dialout" in (error.hint or "")


def test_a_regular_file_is_not_a_serial_port(tmp_path: Path) -> None:
    path = tmp_path / "not-a-port"
    path.write_text("x")
    with pytest.raises(DeployError, match="not a serial port|cannot open"):
        open_port(str(path))


def test_list_serial_ports_returns_port_records() -> None:
    ports = list_serial_ports()
    assert isinstance(ports, list)
    assert all(p.device and isinstance(p.to_dict(), dict) for p in ports)


def test_mqtt_url_fills_the_board_config() -> None:
    config = BoardConfig.from_mqtt_url("mqtt://siot:dfrobot@10.1.2.3:1884/lab/dev1", dir="/home")
    assert (config.broker, config.port, config.user, config.password, config.topic, config.dir) == (
        "10.1.2.3", 1884, "siot", "dfrobot", "lab/dev1", "/home")
    assert BoardConfig.from_mqtt_url("192.168.0.5").port == 1883
    with pytest.raises(DeployError, match="not an MQTT address"):
        BoardConfig.from_mqtt_url("http://example.com/x")
    for bad in ("mqtt://h:abc/t", "mqtt://h:99999/t", "mqtt://h:0/t"):
        with pytest.raises(DeployError, match="bad port"):
            BoardConfig.from_mqtt_url(bad)
    with pytest.raises(DeployError, match="TLS"):
        BoardConfig.from_mqtt_url("mqtts://h/t")


def test_rendered_main_carries_the_config_and_runs_its_label_handling(tmp_path: Path) -> None:
    config = BoardConfig(dir=str(tmp_path), broker="10.0.0.9", topic="p/d", wifi_ssid="lab")
    source = render_main(config, project="words", labels=["Background Noise", "yes"])
    compile(source, "main.py", "exec")
    namespace: dict = {"__name__": "main"}
    exec(source, namespace)
    assert namespace["CONFIG"]["broker"] == "10.0.0.9" and namespace["CONFIG"]["wifi_ssid"] == "lab"
    (tmp_path / "labels.txt").write_text("Background Noise\nyes\n")
    assert namespace["load_labels"]() == ["Background Noise", "yes"]
    seen: list[tuple[str, float | None]] = []
    reactor = namespace["Reactor"](["Background Noise", "yes"], lambda label, c: seen.append((label, c)))
    assert reactor.handle(b"p/d", json.dumps({"label": "yes", "confidence": 0.8}).encode()) == "yes"
    assert reactor.handle(b"p/d", b"nope") is None
    assert seen == [("yes", 0.8)]


def test_board_main_template_defaults_are_importable() -> None:
    assert board_main.parse_message(b"yes") == ("yes", None)
    assert board_main.parse_message('{"label": "no", "confidence": 0.5}') == ("no", 0.5)
    assert board_main.user_hook() is board_main.default_on_label


def test_deployable_files_reject_a_zip_without_the_int8_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("labels.txt", "a\n")
    with pytest.raises(DeployError, match="has no model_int8.tflite"):
        deployable_files(bad, BoardConfig())
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DeployError, match="not a readable zip"):
        deployable_files(tmp_path / "junk.zip", BoardConfig())


def test_export_readme_and_c_array_without_a_test_split() -> None:
    from core.export import c_array, readme
    from core.spec import FeatureSpec

    meta = {"project": "words", "sample_rate": 16000, "clip_seconds": 1.0, "created": "today",
            "accuracy": {"float32": None, "int8": None, "test_clips": 0}}
    text = readme(["Background Noise", "yes"], meta)
    assert "float32 n/a, int8 n/a" in text and "Background Noise, yes" in text
    assert not re.search(r"@\w+@", text)  # every placeholder filled (addresses like user@host stay)
    quant = {"input": {"scale": 0.5, "zero_point": -3}, "output": {"scale": 1 / 256, "zero_point": -128}}
    header, source = c_array(bytes(range(30)), ["a", 'say "hi"'], quant, FeatureSpec())
    assert 'kEarshotLabels[kEarshotLabelCount] = {"a", "say \\"hi\\""}' in header
    assert "g_model_int8_len = 30;" in source and "0x1d" in source


class FloodingLink:
    """A device that never stops printing (a chatty program at full speed)."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = 1) -> bytes:
        self.reads += 1
        return b"garbage " * max(1, min(size, 4096) // 8)

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        pass


def test_a_board_that_floods_bytes_gets_a_deadline_not_a_hang() -> None:
    import time

    repl = RawRepl(FloodingLink(), name="the flooding board", timeout=1.0, chunk_pause=0)
    start = time.monotonic()
    with pytest.raises(DeployError) as caught:
        repl.enter()
    assert time.monotonic() - start < 3.0
    assert "flooding board" in caught.value.message and caught.value.hint
