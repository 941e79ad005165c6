"""MicroPython boards over a serial port: list ports, open one with errors that say what to do, and
run code through the raw REPL (Ctrl-A), with a timeout on every step.

The raw REPL protocol: Ctrl-A enters it ("raw REPL; CTRL-B to exit\\r\\n>"); code followed by Ctrl-D
is answered "OK", then the program's stdout, Ctrl-D, its stderr (a traceback), Ctrl-D and ">".
Boards that support raw-paste mode (Ctrl-E A Ctrl-A answered "R\\x01") get the code with their own
flow control (a window of bytes, renewed by Ctrl-A); others ("R\\x00", or no answer) in timed chunks.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import DeployError

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"soft reboot\r\n"
DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT = 5.0
WRITE_CHUNK = 256  # bytes per serial write; a board's UART buffer may be small
CHUNK_PAUSE = 0.005  # seconds between chunks, as pyboard.py does, so a slow board keeps up
DRAIN_SECONDS = 0.5  # longest wait for a chatty board's output to stop before entering the raw REPL
MAX_PENDING = 1 << 20  # bytes of output kept while waiting for an answer; more is a board streaming data


class Link(Protocol):
    """The byte pipe to a board: a pyserial port or a test double."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SerialPortInfo:
    """One serial port as `earshot devices` shows it."""

    device: str
    description: str
    hwid: str
    vid: int | None = None
    pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "description": self.description, "hwid": self.hwid,
                "vid": self.vid, "pid": self.pid}


class BoardExecError(DeployError):
    """Code sent to the board raised; `traceback` holds the board's stderr."""

    def __init__(self, message: str, traceback: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.traceback = traceback

    @property
    def errno(self) -> int | None:
        """The OSError number in the traceback, if the board raised one."""
        last = self.traceback.strip().splitlines()[-1] if self.traceback.strip() else ""
        if not last.startswith("OSError"):
            return None
        for name, code in (("ENOSPC", errno.ENOSPC), ("ENOENT", errno.ENOENT), ("EEXIST", errno.EEXIST),
                           ("EACCES", errno.EACCES), ("EROFS", errno.EROFS), ("EIO", errno.EIO)):
            if name in last:
                return code
        digits = "".join(ch if ch.isdigit() else " " for ch in last).split()
        return int(digits[0]) if digits else None


def list_serial_ports() -> list[SerialPortInfo]:
    """Serial ports of this machine (USB boards show up as /dev/ttyACM* or /dev/ttyUSB*)."""
    from serial.tools import list_ports

    return [SerialPortInfo(p.device, p.description or "", p.hwid or "", p.vid, p.pid)
            for p in sorted(list_ports.comports(), key=lambda p: p.device)]


def open_port(port: str, *, baud: int = DEFAULT_BAUD, timeout: float = 0.05) -> Any:
    """Open `port` (a device path or a pyserial URL such as loop://) exclusively, or raise DeployError."""
    import serial

    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=timeout, write_timeout=DEFAULT_TIMEOUT,
                                     exclusive=True)
    except ValueError as exc:
        raise DeployError(f"cannot open {port}: {exc}", "check --port and --baud") from exc
    except (OSError, serial.SerialException) as exc:
        raise port_error(port, exc) from exc


def port_error(port: str, exc: BaseException) -> DeployError:
    """A one-line error for a port that could not be opened."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return DeployError(f"no serial port {port}",
                           "plug the board in and check the name with 'earshot devices'")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return DeployError(f"permission denied on {port}", "add yourself to the dialout group "
                           "(sudo usermod -aG dialout $USER) and log in again")
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text.lower():
        return DeployError(f"{port} is busy: another program has it open",
                           "close the other serial terminal (mpremote, screen, Thonny) and try again")
    if code == errno.ENOTTY:
        return DeployError(f"{port} is not a serial port", "pick a port listed by 'earshot devices'")
    return DeployError(f"cannot open {port}: {text}", "check the cable and the port name")


class RawRepl:
    """A MicroPython raw REPL session on an open link. Every wait has a deadline."""

    def __init__(self, link: Link, *, name: str = "the board", timeout: float = DEFAULT_TIMEOUT,
                 chunk_pause: float = CHUNK_PAUSE) -> None:
        self.link = link
        self.name = name
        self.timeout = timeout
        self.chunk_pause = chunk_pause
        self.active = False
        self.raw_paste: bool | None = None  # unknown until the first exec
        self._pending = bytearray()

    # -- bytes in and out ---------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.link.write(data[start:start + WRITE_CHUNK])
                if self.chunk_pause and len(data) > WRITE_CHUNK:
                    time.sleep(self.chunk_pause)
        except Exception as exc:  # pyserial raises SerialException, SerialTimeoutException or OSError
            raise self._lost(exc) from exc

    def _read_until(self, ending: bytes, timeout: float, what: str) -> bytes:
        """Bytes up to and including `ending`; DeployError if it does not come within `timeout` s."""
        deadline = time.monotonic() + timeout
        searched = 0
        while (end := self._pending.find(ending, searched)) < 0:
            searched = max(0, len(self._pending) - len(ending) + 1)  # look only at new bytes next time
            if time.monotonic() > deadline:
                raise DeployError(f"{self.name} did not answer ({what}) within {timeout:g} s",
                                  "it may be running a program: press Ctrl-C in a serial terminal or "
                                  "reset the board, then try again")
            if len(self._pending) > MAX_PENDING:
                raise DeployError(f"{self.name} sends a stream of data instead of answering ({what})",
                                  "a program on it keeps printing: stop it with Ctrl-C in a serial terminal "
                                  "or reset the board, and check --port and --baud")
            size = min(max(1, self._waiting()), 65536)
            try:
                chunk = self.link.read(size)
            except Exception as exc:
                raise self._lost(exc) from exc
            self._pending.extend(chunk or b"")
        end += len(ending)
        data = bytes(self._pending[:end])
        del self._pending[:end]
        return data

    def _drain(self) -> None:
        """Discard what the board printed so far; a board that never stops talking gets DRAIN_SECONDS."""
        self._pending.clear()
        deadline = time.monotonic() + min(DRAIN_SECONDS, self.timeout)
        try:
            while self.link.read(4096) and time.monotonic() < deadline:
                pass
        except Exception as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: BaseException) -> DeployError:
        self.active = False
        return DeployError(f"lost the connection to {self.name}: {exc}",
                           "check the cable, reconnect the board and run flash again")

    # -- the raw REPL -------------------------------------------------------------------------

    def enter(self, *, soft_reset: bool = True) -> None:
        """Interrupt whatever runs, enter the raw REPL and optionally soft-reset (frees the heap)."""
        self._write(b"\r\x03\x03")
        time.sleep(0.1)
        self._drain()
        self._write(b"\r\x01")
        self._read_until(RAW_BANNER + b">", self.timeout, "entering the raw REPL")
        if soft_reset:
            self._write(b"\x04")
            self._read_until(SOFT_REBOOT, self.timeout, "soft reboot")
            self._read_until(RAW_BANNER + b">", self.timeout, "raw REPL after the soft reboot")
        self.active = True

    def exec(self, code: str | bytes, *, timeout: float | None = None) -> bytes:
        """Run `code` on the board and return its stdout; BoardExecError with the traceback if it raised."""
        if not self.active:
            raise DeployError(f"{self.name} is not in the raw REPL", "call enter() first")
        payload = code.encode() if isinstance(code, str) else code
        wait = self.timeout if timeout is None else timeout
        if self.raw_paste is not False and self._start_raw_paste(wait):
            self._paste(payload, wait)
        else:
            self._write(payload + b"\x04")
            answer = self._read_until(b"OK", wait, "accepting code")
            if answer != b"OK":
                self.active = False
                raise DeployError(f"{self.name} answered {answer[-40:]!r} instead of OK",
                                  "reset the board and try again")
        out = self._read_until(b"\x04", wait, "running code")[:-1]
        err = self._read_until(b"\x04", wait, "running code")[:-1]
        self._read_until(b">", wait, "the raw prompt")
        if err:
            traceback = err.decode("utf-8", "replace")
            last = traceback.strip().splitlines()[-1] if traceback.strip() else traceback
            raise BoardExecError(f"{self.name} raised {last}", traceback)
        return out

    def _read_exact(self, size: int, timeout: float, what: str) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self._pending) < size:  # every read returns within the port's read timeout
            if time.monotonic() > deadline:
                raise DeployError(f"{self.name} did not answer ({what}) within {timeout:g} s",
                                  "reset the board and try again")
            try:
                self._pending.extend(self.link.read(size - len(self._pending)) or b"")
            except Exception as exc:
                raise self._lost(exc) from exc
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    def _waiting(self) -> int:
        """Bytes the link already holds (0 for links that cannot tell)."""
        try:
            return int(getattr(self.link, "in_waiting", 0) or 0)
        except Exception as exc:
            raise self._lost(exc) from exc

    def _start_raw_paste(self, wait: float) -> bool:
        """Ask for raw-paste mode; True when the board accepted (it then expects the code)."""
        self._write(b"\x05A\x01")
        reply = self._read_exact(2, wait, "raw-paste request")
        if reply == b"R\x01":
            self.raw_paste = True
            return True
        if reply != b"R\x00":  # firmware without raw-paste: it echoes the banner again
            self._read_until(b"w REPL; CTRL-B to exit\r\n>", wait, "raw REPL after raw-paste request")
        self.raw_paste = False
        return False

    def _paste(self, payload: bytes, wait: float) -> None:
        """Send code in raw-paste mode, never more than the window the board granted."""
        window = int.from_bytes(self._read_exact(2, wait, "raw-paste window"), "little")
        remaining = window
        sent = 0
        while sent < len(payload):
            while remaining == 0 or self._pending or self._waiting():
                flag = self._read_exact(1, wait, "raw-paste flow control")
                if flag == b"\x01":
                    remaining += window
                elif flag == b"\x04":  # the board aborted (e.g. a syntax error): acknowledge
                    self._write(b"\x04")
                    return
                else:
                    raise DeployError(f"{self.name} sent {flag!r} during raw paste", "reset the board")
            chunk = payload[sent:sent + remaining]
            self._write(chunk)
            sent += len(chunk)
            remaining -= len(chunk)
        self._write(b"\x04")
        self._read_until(b"\x04", wait, "end of raw paste")

    def eval(self, expression: str, *, timeout: float | None = None) -> str:
        """The printed value of `expression`, stripped."""
        return self.exec(f"print({expression})", timeout=timeout).decode("utf-8", "replace").strip()

    def leave(self) -> None:
        """Back to the friendly REPL (Ctrl-B); ignores a link that is already gone."""
        if self.active:
            self.active = False
            try:
                self.link.write(b"\r\x02")
            except Exception:
                pass
