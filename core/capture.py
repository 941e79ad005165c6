"""The recording session: a countdown, then `seconds` of audio from any source, with progress, a
cancel that keeps what was recorded, and a dead-microphone check.

Sources live in core.sources (the interface, sound files) and core.microphone (sounddevice);
levels and the "silent" thresholds in core.levels. Their names are re-exported here, where callers
have always found them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import CaptureError
from core.levels import DEAD_INPUT_DB, FLOOR_DB, Level, db  # noqa: F401  (re-exported)
from core.microphone import (  # noqa: F401  (re-exported)
    DEAD_MIC_HINT,
    PORTAUDIO_HINT,
    STALL_SECONDS,
    START_TIMEOUT,
    InputDevice,
    MicrophoneSource,
    find_input_device,
    list_input_devices,
    sounddevice,
)
from core.sources import AudioSource, WavFileSource  # noqa: F401  (re-exported)
from core.spec import RECORD_SECONDS

LEVEL_INTERVAL = 0.05  # seconds between level reports: ~20 per second
SILENCE_CHECK_SECONDS = 2.0
SILENCE_PEAK_DB = DEAD_INPUT_DB


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
            if db(peak) < DEAD_INPUT_DB:
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
