"""Keeping what the live classifier heard as new samples, and telling when the model is out of date.

While listening, `TappedSource` copies every block it reads into a `RecentAudio` ring, so the exact
window behind a decision (it ends at `decision.time` of the stream) can be cut out afterwards and
stored with `keep_window`: the raw window is kept as a recording, then added as a sample (both
written atomically by the project).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

KEPT_PREFIX = "kept"


class RecentAudio:
    """The last `seconds` of a stream `float32`, addressed by sample position from the stream's start.

    One thread adds blocks while another may cut windows out: a lock keeps each cut consistent."""

    def __init__(self, sample_rate: int, seconds: float = 6.0) -> None:
        self.sample_rate = int(sample_rate)
        self._ring = np.zeros(max(1, int(round(seconds * sample_rate))), dtype=np.float32)
        self._lock = threading.Lock()
        self.end = 0  # samples seen so far

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        size = self._ring.size
        with self._lock:
            if block.size >= size:
                self._ring[:] = block[-size:]
            else:
                self._ring[:size - block.size] = self._ring[block.size:]
                self._ring[size - block.size:] = block
            self.end += block.size

    def window(self, end: int, length: int) -> np.ndarray | None:
        """Samples `[end - length, end)`, or None when they are no longer (or not yet) held."""
        with self._lock:
            start = end - length
            held = min(self.end, self._ring.size)
            if length <= 0 or end > self.end or start < self.end - held or start < 0:
                return None
            offset = self._ring.size - (self.end - start)
            return self._ring[offset:offset + length].copy()

    def last(self, length: int) -> np.ndarray:
        """The latest `length` samples (zero-padded at the front when fewer were heard)."""
        with self._lock:
            held = min(self.end, self._ring.size, length)
            out = np.zeros(length, dtype=np.float32)
            if held:
                out[length - held:] = self._ring[self._ring.size - held:]
            return out

    def at_time(self, seconds: float, length: int) -> np.ndarray:
        """The window of `length` samples ending at `seconds` of the stream, else the latest one."""
        window = self.window(int(round(seconds * self.sample_rate)), length)
        return window if window is not None else self.last(length)


class TappedSource:
    """An audio source (core.capture) whose every block read is also copied into `recent`."""

    def __init__(self, source: Any, recent: RecentAudio) -> None:
        self.source, self.recent = source, recent

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        block = self.source.read(timeout=timeout)
        if block is not None:
            self.recent.add(block)
        return block

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


@dataclass(frozen=True)
class KeptSample:
    class_name: str
    path: Path
    recording: Path


def keep_window(project: Any, class_name: str, window: np.ndarray) -> KeptSample:
    """Store `window: float32 [n]` (the model's rate) as a recording and a sample of `class_name`."""
    from core.features import fit_clip

    info = project.get_class(class_name)
    audio = np.asarray(window, dtype=np.float32).reshape(-1)
    recording = project.save_recording(info, audio, label=KEPT_PREFIX)
    [path] = project.add_clips(info, [fit_clip(audio, project.audio.clip_samples)], prefix=KEPT_PREFIX)
    return KeptSample(info.name, path, recording)


def model_out_of_date(project: Any) -> str | None:
    """Why the project's latest model no longer matches its samples, or None when it does (or has none).

    Compares the classes with the model's labels, and the sample folders (files and the folders
    themselves, whose time changes when a sample is added or deleted) with the model's metadata time.
    """
    metadata = Path(project.models_dir) / "latest" / "metadata.json"
    if not metadata.is_file():
        return None
    try:
        labels = json.loads(metadata.read_text(encoding="utf-8")).get("labels", [])
    except (OSError, json.JSONDecodeError):
        return None
    classes = [c.name for c in project.classes]
    if labels != classes:
        return "the classes changed since the model was trained"
    trained = metadata.stat().st_mtime_ns
    newer = 0
    changed = False
    for info in project.classes:
        folder = project.samples_dir(info)
        if folder.is_dir() and folder.stat().st_mtime_ns > trained:
            changed = True
        newer += sum(1 for p in project.samples(info) if p.stat().st_mtime_ns > trained)
    if newer:
        return f"{newer} new sample{'s' if newer != 1 else ''} since the model was trained"
    if changed:
        return "samples were deleted since the model was trained"
    return None
