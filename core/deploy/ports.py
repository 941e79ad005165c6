"""Which serial ports are boards: USB serial ports first, known board makers named, none -> say so.

A lab machine lists many serial ports (`/dev/ttyS0`... are the motherboard's UARTs, always present
and never a board). A MicroPython board shows up as a USB serial port with a vendor and product id;
`board_ports` keeps only those, known makers first, so "no board" can be said before trying to flash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.deploy.serial import SerialPortInfo

# USB vendor ids of the chips and boards MicroPython runs on (or talks through).
KNOWN_VENDORS: dict[int, str] = {
    0x2E8A: "Raspberry Pi (Pico)",
    0x303A: "Espressif (ESP32-S2/S3/C3)",
    0x10C4: "Silicon Labs CP210x (ESP32 boards)",
    0x1A86: "WCH CH340 (ESP32/ESP8266 boards)",
    0x0403: "FTDI",
    0xF055: "MicroPython (pyboard)",
    0x239A: "Adafruit",
    0x2341: "Arduino",
    0x0D28: "micro:bit (DAPLink)",
    0x3343: "DFRobot",
    0x1B4F: "SparkFun",
}
NO_BOARD = "no board is plugged in"
NO_BOARD_HINT = "connect the board with a USB data cable, then refresh the list (g)"


@dataclass(frozen=True)
class BoardPort:
    """A serial port that can be a board: its device, a label for people, and whether its maker is known."""

    device: str
    label: str
    known: bool


def maker(vid: int | None) -> str | None:
    """The board or chip maker of a USB vendor id, if it is one MicroPython boards use."""
    return None if vid is None else KNOWN_VENDORS.get(vid)


def board_ports(ports: Iterable[SerialPortInfo]) -> list[BoardPort]:
    """USB serial ports (those with a vendor id), known makers first; built-in UARTs are left out."""
    found: list[BoardPort] = []
    for port in ports:
        if port.vid is None:
            continue  # /dev/ttyS*: a UART of the machine itself, not a plugged-in board
        name = maker(port.vid)
        description = port.description if port.description and port.description != "n/a" else ""
        ids = f"{port.vid:04x}:{port.pid or 0:04x}"
        label = " · ".join(part for part in (description, name, ids) if part)
        found.append(BoardPort(port.device, label, name is not None))
    return sorted(found, key=lambda p: (not p.known, p.device))


def list_board_ports(lister: Callable[[], list[SerialPortInfo]] | None = None) -> list[BoardPort]:
    """The machine's USB serial ports as `board_ports` orders them (pyserial's list by default)."""
    if lister is None:
        from core.deploy.serial import list_serial_ports

        lister = list_serial_ports
    return board_ports(lister())
