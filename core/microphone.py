"""Microphones through sounddevice: listing and choosing input devices, and a microphone as an
audio source (core.sources.AudioSource).

sounddevice (and the PortAudio library under it) is imported only when a microphone is used, so
every other command works on a machine without `libportaudio2`.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import CaptureError
from core.levels import Level
from core.runtime.live import StreamResampler, input_settings
from core.sources import _ContextSource

PORTAUDIO_HINT = "install PortAudio: apt-get install libportaudio2"
START_TIMEOUT = 5.0  # seconds a microphone may take to deliver its first block
STALL_SECONDS = 3.0  # no audio for this long after the start: the microphone went away
DEAD_MIC_HINT = "check that the microphone is on and connected, and not muted"


def sounddevice() -> Any:
    """The sounddevice module, or a CaptureError saying how to install PortAudio."""
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when libportaudio2 is missing
        message = "audio input is unavailable: the PortAudio library is missing"
        raise CaptureError(message, PORTAUDIO_HINT) from exc
    except ImportError as exc:
        raise CaptureError("audio input is unavailable: the sounddevice package is missing",
                           "reinstall earshot: pip install -e .") from exc
    return sd


@dataclass(frozen=True)
class InputDevice:
    """A microphone as PortAudio lists it."""

    index: int
    name: str
    host_api: str
    channels: int
    default_rate: float
    is_default: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_input_devices() -> list[InputDevice]:
    """Every device that can record, the system default marked."""
    sd = sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise CaptureError(f"cannot list audio devices ({exc})", "check the sound system") from exc
    if default_in is None or default_in < 0:
        defaults = [int(a["default_input_device"]) for a in apis if a["default_input_device"] >= 0]
        default_in = defaults[0] if defaults else -1
    return [
        InputDevice(index=int(d["index"]), name=str(d["name"]), host_api=str(apis[d["hostapi"]]["name"]),
                    channels=int(d["max_input_channels"]), default_rate=float(d["default_samplerate"]),
                    is_default=int(d["index"]) == default_in)
        for d in devices
        if d["max_input_channels"] > 0
    ]


def find_input_device(device: int | str | None) -> InputDevice:
    """A device by index, by (part of) its name, or the default one when `device` is None or empty."""
    devices = list_input_devices()
    if not devices:
        raise CaptureError("no microphone found", "connect one, or use --input FILE")
    if device is None or device == "":
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(device, int) or str(device).strip().isdigit():
        index = int(device)
        for d in devices:
            if d.index == index:
                return d
        raise CaptureError(f"no input device number {index}", "run 'earshot devices' to list them")
    wanted = str(device).strip().lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    partial = [d for d in devices if wanted in d.name.lower()]
    matches = exact or partial
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CaptureError(f"no input device matches {device!r}", "run 'earshot devices' to list them")
    names = ", ".join(f"{d.index}: {d.name}" for d in matches)
    raise CaptureError(f"{device!r} matches several devices ({names})", "give its number instead")


class MicrophoneSource(_ContextSource):
    """Record from a PortAudio input device, resampling to `sample_rate` when the device needs it.

    The audio callback only copies each block into a queue and stores the latest level; resampling
    happens in `read`, on the consumer's thread.
    """

    def __init__(self, sample_rate: int, device: int | str | None = None, *, device_rate: int | None = None,
                 block_seconds: float = 0.01, max_queued_seconds: float = 30.0) -> None:
        self.sample_rate = int(sample_rate)
        self.device = find_input_device(device)
        self.name = self.device.name
        self._requested_rate = device_rate
        self.device_rate = 0
        self._block_seconds = block_seconds
        self._queue: queue.Queue[tuple[np.ndarray, float]] = queue.Queue()
        self._max_blocks = max(1, int(max_queued_seconds / block_seconds))
        self._level = Level()
        self._stream: Any = None
        self._resampler: StreamResampler | None = None
        self.overflows = 0
        self.dropped_blocks = 0
        self.last_arrival = 0.0  # time.monotonic() when the block last returned by read() arrived
        self._last_block = 0.0
        self.latency = 0.0  # input latency PortAudio reports for the open stream, seconds

    def _choose_rate(self, sd: Any) -> tuple[int, int]:
        if self._requested_rate:
            rates = [self._requested_rate]
        else:
            rates = [self.sample_rate, int(self.device.default_rate), 48000, 44100]
        chosen = input_settings(sd, self.device.index, self.device.channels, rates)
        if chosen is not None:
            return int(chosen[0]), int(chosen[1])
        raise CaptureError(f"{self.name}: no usable sample rate", "choose another device with --device")

    def _callback(self, indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        block = indata[:, 0].copy() if indata.shape[1] == 1 else indata.mean(axis=1, dtype=np.float32)
        if self._queue.qsize() >= self._max_blocks:
            self.dropped_blocks += 1
            return
        self._queue.put_nowait((block, time.monotonic()))
        self._level = Level.of(block)

    def start(self) -> None:
        sd = sounddevice()
        self.device_rate, channels = self._choose_rate(sd)
        if self.device_rate != self.sample_rate:  # the runtime's resampler, as for every other file
            self._resampler = StreamResampler(self.device_rate, self.sample_rate)
        try:
            self._stream = sd.InputStream(
                device=self.device.index, samplerate=self.device_rate, channels=channels, dtype="float32",
                blocksize=int(self.device_rate * self._block_seconds), latency="low", callback=self._callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise CaptureError(f"{self.name}: cannot open the microphone ({exc})", DEAD_MIC_HINT) from exc
        self.latency = float(self._stream.latency)
        self._wait_for_audio()

    def _wait_for_audio(self) -> None:
        """Return once the first block arrived, so a countdown or a recording starts on real audio."""
        deadline = time.monotonic() + START_TIMEOUT
        while self._queue.empty():
            if time.monotonic() > deadline:
                self.stop()
                raise CaptureError(f"{self.name}: no audio arrives from the microphone", DEAD_MIC_HINT)
            time.sleep(0.005)
        self._last_block = time.monotonic()

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        try:
            block, self.last_arrival = self._queue.get(timeout=timeout)
        except queue.Empty:
            if self._stream is not None and time.monotonic() - self._last_block > STALL_SECONDS:
                raise CaptureError(f"{self.name}: the microphone stopped sending audio",
                                   "check that it is still connected, then try again") from None
            return np.zeros(0, dtype=np.float32)
        self._last_block = time.monotonic()
        if self._resampler is not None:
            block = self._resampler.process(block)
        return block

    def level(self) -> Level:
        return self._level

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
