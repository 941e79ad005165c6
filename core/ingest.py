"""Put audio into a project: a recording cut into clips, or a whole upload (see core.samplezip)."""

from __future__ import annotations

import numpy as np

from core.audio import quantize
from core.errors import AudioError
from core.project import ClassInfo, Project
from core.segment import MODES, Extraction, extract
from core.spec import BACKGROUND_NOISE


def default_mode(info: ClassInfo) -> str:
    """`fixed` windows for Background Noise, `events` for every other class."""
    return "fixed" if info.fixed or info.name == BACKGROUND_NOISE else "events"


def extract_recording(
    project: Project, info: ClassInfo, y: np.ndarray, *, mode: str | None = None, label: str = "recording"
) -> Extraction:
    """Keep the raw recording `y: float32 [n]` first, then cut it and store the clips in `info`'s folder.

    `mode` is "fixed" or "events" (default: `default_mode(info)`). The returned Extraction has
    `recording` (the kept raw file) and `paths` (the stored clips) filled in; clips identical to ones
    already stored are counted in `duplicates`.
    """
    chosen = mode or default_mode(info)
    if chosen not in MODES:
        raise AudioError(f"unknown extraction mode {chosen!r}", "use fixed or events")
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise AudioError(f"a recording must be a non-empty mono signal, got shape {y.shape}", "record again")
    y = quantize(y)  # exactly what the kept 16-bit recording holds, so re-cutting it gives the same clips
    with project.lock():
        recording = project.save_recording(info, y, label=label)
        result = extract(y, project.audio, mode=chosen)
        result.recording = recording
        before = set(project.samples(info))
        result.paths = project.add_clips(info, result.clips, prefix=label)
        result.duplicates = sum(1 for p in result.paths if p in before)
    return result
