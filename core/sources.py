"""Sources of audio blocks: the small interface every microphone and sound file implements, and a
sound file (or an array) replayed as if it were a microphone.

Every source delivers mono `float32` blocks at the project's sample rate, so recording, live
classification, the demo and the tests do not care where the sound comes from.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.levels import Level


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
