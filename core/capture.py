"""Microphones and sound files as block sources, and the recording session built on them.

Every source delivers mono `float32` blocks at the project's sample rate through the same small
interface (`AudioSource`), so recording, live classification, the demo and the tests do not care
whether the sound comes from a microphone or a WAV file played back in real time.

sounddevice (and the PortAudio library under it) is imported only when a microphone is used, so
every other command works on a machine without `libportaudio2`.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import CaptureError
from core.spec import RECORD_SECONDS

PORTAUDIO_HINT = "install PortAudio: apt-get install libportaudio2"
FLOOR_DB = -100.0
LEVEL_INTERVAL = 0.05  # seconds between level reports: ~20 per second
SILENCE_CHECK_SECONDS = 2.0
SILENCE_PEAK_DB = -80.0  # about 3 LSB at 16 bits: a dead, muted or disconnected input
START_TIMEOUT = 5.0  # seconds a microphone may take to deliver its first block
STALL_SECONDS = 3.0  # no audio for this long after the start: the microphone went away
DEAD_MIC_HINT = "check that the microphone is on and connected, and not muted"


def db(value: float) -> float:
    """Amplitude to dBFS, floored at FLOOR_DB."""
    return max(FLOOR_DB, 20.0 * math.log10(value)) if value > 0 else FLOOR_DB


@dataclass(frozen=True)
class Level:
    """Loudness of the latest audio: RMS and peak in dBFS (0 dB is full scale)."""

    rms_db: float = FLOOR_DB
    peak_db: float = FLOOR_DB

    @classmethod
    def of(cls, block: np.ndarray) -> Level:
        if block.size == 0:
            return cls()
        return cls(db(float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))),
                   db(float(np.max(np.abs(block)))))


class AudioSource(Protocol):
    """Mono float32 blocks at `sample_rate`; use as a context manager or call start/stop."""

    sample_rate: int
    name: str
    overflows: int

    def start(self) -> None: ...

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        """The next block (empty if none arrived within `timeout`), or None once the source ended."""
        ...

    def level(self) -> Level: ...

    def stop(self) -> None: ...


class _ContextSource:
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _ContextSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- microphones (sounddevice)


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
        self._resampler: Any = None
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
        for channels in sorted({1, max(1, self.device.channels)}):
            for rate in rates:
                try:
                    sd.check_input_settings(device=self.device.index, channels=channels, samplerate=rate,
                                            dtype="float32")
                    return int(rate), channels
                except Exception:  # PortAudioError or ValueError: this combination is not supported
                    continue
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
        if self.device_rate != self.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(self.device_rate, self.sample_rate, 1, dtype="float32",
                                                  quality="HQ")
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
            block = np.asarray(self._resampler.resample_chunk(block), dtype=np.float32)
        return block

    def level(self) -> Level:
        return self._level

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


# ---------------------------------------------------------------- sound files


class WavFileSource(_ContextSource):
    """Replay a sound file (or an array) as if it were a microphone.

    `speed` 1.0 is real time, 4.0 four times faster, 0 as fast as the reader asks.
    """

    def __init__(self, path: Path | str | None, sample_rate: int, *, speed: float = 1.0,
                 block_seconds: float = 0.02, audio: np.ndarray | None = None) -> None:
        from core.audio import load

        self.sample_rate = int(sample_rate)
        if audio is None:
            if path is None:
                raise ValueError("give a path or an array")
            audio = load(Path(path), self.sample_rate)
            self.name = Path(path).name
        else:
            self.name = str(path or "audio")
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.speed = float(speed)
        self.block = max(1, int(round(self.sample_rate * block_seconds)))
        self.position = 0
        self.overflows = 0
        self.last_arrival = 0.0
        self._started = 0.0
        self._level = Level()

    @classmethod
    def from_array(cls, audio: np.ndarray, sample_rate: int, **options: Any) -> WavFileSource:
        return cls(None, sample_rate, audio=audio, **options)

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sample_rate

    def start(self) -> None:
        self.position = 0
        self._started = time.monotonic()

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        if self.position >= self.audio.size:
            return None
        end = min(self.audio.size, self.position + self.block)
        if self.speed > 0:
            due = self._started + end / self.sample_rate / self.speed
            wait = due - time.monotonic()
            if wait > timeout:
                time.sleep(timeout)
                return np.zeros(0, dtype=np.float32)
            if wait > 0:
                time.sleep(wait)
        block = self.audio[self.position:end]
        self.position = end
        self.last_arrival = time.monotonic()
        self._level = Level.of(block)
        return block

    def level(self) -> Level:
        return self._level

    def stop(self) -> None:
        self.position = self.audio.size


# ---------------------------------------------------------------- recording session


@dataclass(frozen=True)
class RecordingProgress:
    """What a meter shows while recording: seconds done and left, the level, overflows so far."""

    elapsed: float
    remaining: float
    level: Level
    overflows: int


@dataclass(frozen=True)
class RecordingResult:
    """The recorded audio `float32 [n]` at `sample_rate`; `cancelled` when stopped early, `problem`
    when the source failed part-way (what came before it is kept)."""

    audio: np.ndarray
    sample_rate: int
    requested_seconds: float
    cancelled: bool
    overflows: int
    level: Level  # over the whole recording
    problem: str | None = None

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sample_rate


def record(
    source: AudioSource,
    seconds: float = RECORD_SECONDS,
    *,
    countdown: int = 3,
    on_countdown: Callable[[int], None] | None = None,
    on_progress: Callable[[RecordingProgress], None] | None = None,
    cancel: threading.Event | None = None,
    check_silence: bool = True,
) -> RecordingResult:
    """Record `seconds` from an already started `source` after a countdown of `countdown` seconds.

    `on_progress` is called every 50 ms of audio (20 times a second in real time). A `cancel` keeps
    what was recorded so far. If the first seconds are near-digital silence the microphone is dead or
    muted: raise a CaptureError instead of recording 20 s of zeros.
    """
    if seconds <= 0:
        raise CaptureError("the recording length must be positive", "give --seconds 1 or more")
    cancel = cancel or threading.Event()
    if countdown > 0 and not _count_down(source, countdown, on_countdown, cancel):
        return _result(source, [], seconds, cancelled=True)
    target = int(round(seconds * source.sample_rate))
    check_samples = int(round(min(SILENCE_CHECK_SECONDS, seconds) * source.sample_rate))
    blocks: list[np.ndarray] = []
    count = 0
    peak = 0.0
    checked = not check_silence
    report_every = int(source.sample_rate * LEVEL_INTERVAL)
    next_report = 0
    while count < target and not cancel.is_set():
        try:
            block = source.read(timeout=LEVEL_INTERVAL)
        except CaptureError as error:
            if not blocks:
                raise
            return _result(source, blocks, seconds, cancelled=False, problem=str(error))
        if block is None:
            break
        block = block[: target - count]
        if block.size:
            blocks.append(block)
            count += block.size
            peak = max(peak, float(np.max(np.abs(block))))
        if not checked and count >= check_samples:
            checked = True
            if db(peak) < SILENCE_PEAK_DB:
                raise CaptureError(f"{source.name}: the microphone records only silence", DEAD_MIC_HINT)
        if on_progress is not None and (count >= next_report or count >= target):
            next_report = count + report_every
            elapsed = count / source.sample_rate
            on_progress(RecordingProgress(elapsed, max(0.0, seconds - elapsed), source.level(),
                                          source.overflows))
    return _result(source, blocks, seconds, cancelled=cancel.is_set())


def _count_down(source: AudioSource, countdown: int, on_countdown: Callable[[int], None] | None,
                cancel: threading.Event) -> bool:
    """Drain the source for `countdown` seconds, announcing each second; False when cancelled."""
    for remaining in range(countdown, 0, -1):
        if on_countdown is not None:
            on_countdown(remaining)
        drained = 0
        while drained < source.sample_rate:
            if cancel.is_set():
                return False
            block = source.read(timeout=LEVEL_INTERVAL)
            if block is None:
                return True
            drained += block.size
    if on_countdown is not None:
        on_countdown(0)
    return True


def _result(source: AudioSource, blocks: list[np.ndarray], seconds: float, *, cancelled: bool,
            problem: str | None = None) -> RecordingResult:
    audio = np.concatenate(blocks).astype(np.float32) if blocks else np.zeros(0, dtype=np.float32)
    return RecordingResult(audio, source.sample_rate, seconds, cancelled, source.overflows, Level.of(audio),
                           problem)
