"""Copy an exported model to a MicroPython board: the int8 model, labels, metadata and a generated
main.py, each checked by SHA-256 after writing and skipped when the board already has it.

A file is written to `<name>.part` first and renamed only after its hash matched, so a board
unplugged mid-transfer never holds a half-written file under the real name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.deploy.serial import DEFAULT_BAUD, DEFAULT_TIMEOUT, BoardExecError, Link, RawRepl, open_port
from core.errors import DeployError, PushError
from core.push.settings import DEFAULT_TOPIC, default_topic, parse_mqtt_url

BLOCK = 1024  # raw bytes per exec while writing; the code string is ~1.4 KB, fine for small boards
MODEL_FILES = ("model_int8.tflite", "labels.txt", "metadata.json")
CONFIG_START = "# --- earshot config ---"
CONFIG_END = "# --- end config ---"
BOARD_PRELUDE = (
    "import os\n"
    "try:\n import binascii\nexcept ImportError:\n import ubinascii as binascii\n"
    "try:\n import hashlib\nexcept ImportError:\n import uhashlib as hashlib\n"
)


@dataclass(frozen=True)
class BoardConfig:
    """Settings baked into the generated main.py."""

    dir: str = "/"
    broker: str = ""
    port: int = 1883
    user: str = "siot"
    password: str = "dfrobot"
    topic: str = DEFAULT_TOPIC
    wifi_ssid: str = ""
    wifi_password: str = ""

    @classmethod
    def from_mqtt_url(cls, url: str, *, project_name: str = "", **others: Any) -> BoardConfig:
        """mqtt://user:password@host:1883/project/device -> broker settings, read exactly as
        `listen --push` reads them (core.push.settings.parse_mqtt_url, same default topic)."""
        try:
            address = parse_mqtt_url(url, topic=default_topic(project_name))
        except PushError as exc:
            raise DeployError(exc.message, exc.hint) from None
        if address.tls:
            raise DeployError(f"the board cannot use TLS ({address.host}:{address.port})",
                              "give the board an mqtt:// address (port 1883)")
        return cls(broker=address.host, port=address.port, user=address.username, password=address.password,
                   topic=address.topic, **others)


@dataclass(frozen=True)
class FlashProgress:
    """Where the flash is: the file, its step, and bytes written so far out of the total to write."""

    name: str
    step: str  # "checking" | "writing" | "verifying" | "skipped" | "done"
    done_bytes: int
    total_bytes: int


@dataclass
class FlashResult:
    port: str
    remote_dir: str
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_written: int = 0
    seconds: float = 0.0

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "remote_dir": self.remote_dir, "written": self.written,
                "skipped": self.skipped, "bytes_written": self.bytes_written,
                "seconds": round(self.seconds, 3), "bytes_per_second": round(self.bytes_per_second)}


def render_main(config: BoardConfig, *, project: str = "", labels: list[str] | None = None) -> str:
    """The board's main.py: core/deploy/board_main.py with the config block filled in."""
    source = (Path(__file__).parent / "board_main.py").read_text()
    start, end = source.index(CONFIG_START), source.index(CONFIG_END)
    values = {"dir": config.dir, "model": "model_int8.tflite", "labels": "labels.txt",
              "broker": config.broker, "port": config.port, "user": config.user,
              "password": config.password, "topic": config.topic, "wifi_ssid": config.wifi_ssid,
              "wifi_password": config.wifi_password, "client_id": "earshot-" + (project or "board")[:16]}
    lines = [CONFIG_START, f"# project {project!r}, labels {labels or []!r}", "CONFIG = {"]
    lines += [f"    {key!r}: {value!r}," for key, value in values.items()]
    lines += ["}", ""]
    return source[:start] + "\n".join(lines) + source[end:]


def model_project_name(model_zip: Path) -> str:
    """The project name in an exported zip's metadata.json ("" when unreadable: deployable_files says why)."""
    if not Path(model_zip).is_file():
        return ""
    try:
        with zipfile.ZipFile(model_zip) as archive:
            meta = json.loads(archive.read("metadata.json"))
        return str(meta.get("project", "")) if isinstance(meta, dict) else ""
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RuntimeError):
        return ""


def deployable_files(model_zip: Path, config: BoardConfig) -> dict[str, bytes]:
    """The files to put on the board, main.py last (so a board never runs a main.py without its model)."""
    if Path(model_zip).exists() and not Path(model_zip).is_file():  # a pipe would be waited on forever
        raise DeployError(f"{model_zip} is not a model zip file", "export one with 'earshot export DIR'")
    try:
        with zipfile.ZipFile(model_zip) as archive:
            names = set(archive.namelist())
            missing = [n for n in MODEL_FILES if n not in names]
            if missing:
                raise DeployError(f"{model_zip} has no {', '.join(missing)}",
                                  "flash a zip made by 'earshot export'")
            files = {name: archive.read(name) for name in MODEL_FILES}
    except FileNotFoundError as exc:
        raise DeployError(f"no such model file {model_zip}", "export one with 'earshot export DIR'") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise DeployError(f"{model_zip} is not a readable zip: {exc}",
                          "export the model again with 'earshot export DIR'") from exc
    try:
        meta = json.loads(files["metadata.json"])
    except ValueError as exc:
        raise DeployError(f"{model_zip} has a broken metadata.json", "export the model again") from exc
    labels = [line for line in files["labels.txt"].decode().splitlines() if line.strip()]
    files["main.py"] = render_main(config, project=str(meta.get("project", "")), labels=labels).encode()
    return files


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


class BoardFiles:
    """File operations on a board through its raw REPL."""

    def __init__(self, repl: RawRepl, *, block: int = BLOCK) -> None:
        self.repl = repl
        self.block = block
        self.has_sha256 = True

    def setup(self) -> None:
        self.repl.exec(BOARD_PRELUDE)
        self.has_sha256 = self.repl.eval("hasattr(hashlib, 'sha256')") == "True"

    def sha256(self, path: str) -> str | None:
        """Hex SHA-256 of a board file, or None when it does not exist."""
        if not self.has_sha256:
            data = self.read(path)
            return None if data is None else hashlib.sha256(data).hexdigest()
        code = (f"try:\n f=open({path!r},'rb')\nexcept OSError:\n f=None\n"
                "if f is None:\n print('-')\nelse:\n h=hashlib.sha256()\n b=bytearray(512)\n"
                " while True:\n  n=f.readinto(b)\n  if not n:\n   break\n  h.update(memoryview(b)[:n])\n"
                " f.close()\n print(binascii.hexlify(h.digest()).decode())")
        answer = self.repl.exec(code, timeout=max(self.repl.timeout, 30)).decode().strip()
        return None if answer == "-" else answer

    def read(self, path: str) -> bytes | None:
        """A board file's content (base64 over the REPL), or None when it does not exist."""
        code = (f"try:\n f=open({path!r},'rb')\nexcept OSError:\n f=None\n"
                "if f is None:\n print('-')\nelse:\n while True:\n  b=f.read(384)\n  if not b:\n   break\n"
                "  print(binascii.b2a_base64(b).decode().strip())\n f.close()\n print('.')")
        answer = self.repl.exec(code, timeout=max(self.repl.timeout, 30)).decode().split()
        if answer == ["-"]:
            return None
        return b"".join(base64.b64decode(line) for line in answer[:-1])

    def write(self, path: str, data: bytes, on_bytes: Callable[[int], None],
              cancel: threading.Event | None = None) -> None:
        """Write `data` to `path` (created or truncated) in blocks, calling on_bytes(written) after each."""
        self.repl.exec(f"f=open({path!r},'wb')\nw=f.write\na=binascii.a2b_base64")
        try:
            for start in range(0, len(data), self.block):
                if cancel is not None and cancel.is_set():
                    raise DeployError("flash cancelled", "run flash again to finish; the board keeps its "
                                      "previous files")
                chunk = data[start:start + self.block]
                lines = (f"w(a({base64.b64encode(chunk[i:i + 384])!r}))"
                         for i in range(0, len(chunk), 384))
                self.repl.exec("\n".join(lines))
                on_bytes(start + len(chunk))
        finally:
            if self.repl.active:
                self.repl.exec("f.close()\ndel f, w")

    def remove(self, path: str) -> None:
        self.repl.exec(f"try:\n os.remove({path!r})\nexcept OSError:\n pass")

    def rename(self, old: str, new: str) -> None:
        """Rename over an existing file (FAT refuses that, so remove the old one first)."""
        self.repl.exec(f"try:\n os.rename({old!r},{new!r})\nexcept OSError:\n"
                       f" os.remove({new!r})\n os.rename({old!r},{new!r})")

    def ensure_dir(self, folder: str) -> None:
        if folder.rstrip("/"):
            self.repl.exec(f"try:\n os.mkdir({folder.rstrip('/')!r})\nexcept OSError:\n pass")


def board_full(what: str) -> DeployError:
    return DeployError(f"the board is full: no room for {what}",
                       "delete files on the board (mpremote fs rm) or flash a smaller model")


def flash_files(files: dict[str, bytes], port: str, *, baud: int = DEFAULT_BAUD, remote_dir: str = "/",
                timeout: float = DEFAULT_TIMEOUT, on_progress: Callable[[FlashProgress], None] | None = None,
                cancel: threading.Event | None = None, link: Link | None = None) -> FlashResult:
    """Copy `files` (name -> bytes, in order) into `remote_dir` on the board at `port`."""
    report = on_progress or (lambda progress: None)
    started = time.monotonic()
    result = FlashResult(port=port, remote_dir=remote_dir)
    opened = link or open_port(port, baud=baud)
    repl = RawRepl(opened, name=f"the board on {port}", timeout=timeout)
    try:
        repl.enter()
        board = BoardFiles(repl)
        board.setup()
        board.ensure_dir(remote_dir)
        hashes = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        pending = []
        for name in files:
            report(FlashProgress(name, "checking", 0, 0))
            if board.sha256(_join(remote_dir, name)) == hashes[name]:
                result.skipped.append(name)
                report(FlashProgress(name, "skipped", 0, 0))
            else:
                pending.append(name)
        total = sum(len(files[name]) for name in pending)
        for name in pending:
            _write_one(board, name, files[name], hashes[name], remote_dir, result, total, report, cancel)
    except BoardExecError as exc:
        if exc.errno == 28:
            raise board_full("the model files") from exc
        raise
    finally:
        repl.leave()
        if link is None:
            try:
                opened.close()
            except Exception:
                pass
    result.seconds = time.monotonic() - started
    return result


def _write_one(board: BoardFiles, name: str, data: bytes, digest: str, remote_dir: str,
               result: FlashResult, total: int, report: Callable[[FlashProgress], None],
               cancel: threading.Event | None) -> None:
    target = _join(remote_dir, name)
    part = target + ".part"
    base = result.bytes_written
    try:
        board.write(part, data, lambda n: report(FlashProgress(name, "writing", base + n, total)), cancel)
    except BoardExecError as exc:
        if exc.errno == 28:
            board.remove(part)
            raise board_full(f"{name} ({len(data)} bytes)") from exc
        raise
    report(FlashProgress(name, "verifying", base + len(data), total))
    written = board.sha256(part)
    if written != digest:
        board.remove(part)
        raise DeployError(f"{name} arrived corrupted on the board (hash mismatch)",
                          "check the cable and run flash again; the board keeps its previous file")
    board.rename(part, target)
    result.written.append(name)
    result.bytes_written += len(data)
    report(FlashProgress(name, "done", result.bytes_written, total))
