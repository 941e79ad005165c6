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
    """Why the project's latest model no longer matches its samples, or None when it does (or has none,
    or it cannot tell).

    When the model's metadata lists the samples it was trained on ("samples": paths relative to the
    project), the sets are compared. Otherwise the sample files and folders are compared with the
    time the model was trained ("created" in its metadata): a file written later is new, a folder
    changed later lost samples. If every sample is newer than the model, the project was copied (a
    copy resets file times) and nothing can be told.
    """
    metadata_path = Path(project.models_dir) / "latest" / "metadata.json"
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(metadata, dict):
        return None
    if metadata.get("labels", []) != [c.name for c in project.classes]:
        return "the classes changed since the model was trained"
    current = {p: info for info in project.classes for p in project.samples(info)}
    listed = metadata.get("samples")
    if isinstance(listed, list):
        trained = {Path(project.root) / str(name) for name in listed}
        return _changes(len(set(current) - trained), len(trained - set(current)))
    trained_at = _trained_at(metadata, metadata_path)
    newer = sum(1 for p in current if p.stat().st_mtime > trained_at)
    if current and newer == len(current):
        return None
    folders = {project.samples_dir(info) for info in project.classes}
    changed = any(f.is_dir() and f.stat().st_mtime > trained_at for f in folders)
    return _changes(newer, 1 if changed and not newer else 0, deleted_known=False)


def _trained_at(metadata: dict[str, Any], path: Path) -> float:
    """When the model was trained, in seconds since the epoch (+1 s: "created" has whole seconds)."""
    import time
    from calendar import timegm

    try:
        parsed = time.strptime(str(metadata["created"]), "%Y-%m-%dT%H:%M:%S%z")
        return float(timegm(parsed)) - float(parsed.tm_gmtoff or 0) + 1.0
    except (KeyError, ValueError):
        return path.stat().st_mtime


def _changes(added: int, removed: int, *, deleted_known: bool = True) -> str | None:
    parts = []
    if added:
        parts.append(f"{added} new sample{'s' if added != 1 else ''}")
    if removed:
        parts.append(f"{removed} sample{'s' if removed != 1 else ''} deleted" if deleted_known
                     else "samples deleted")
    return " and ".join(parts) + " since the model was trained" if parts else None
