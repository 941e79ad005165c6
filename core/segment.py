"""Cut a recording into clip-length samples.

Two modes:

- ``fixed``: contiguous clip-length windows (the Background Noise default). A trailing part of at
  least half a clip gets one more window aligned to the end, so a 29.99 s track still gives 30 clips.
- ``events``: sound events above the recording's own noise floor, one clip centred on each (events
  longer than a clip get consecutive windows over them). When the sound hardly ever drops back to
  the floor (music, a running machine) there is nothing to centre on and it falls back to ``fixed``.

Windows that are silent (a dead or muted microphone) or clipped (overdriven input) are dropped and
counted by reason. A recording shorter than one clip becomes one clip, zero-padded around the middle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from core.errors import AudioError
from core.levels import SILENT_WINDOW_DB
from core.spec import AudioSpec

Mode = Literal["fixed", "events"]
MODES: tuple[str, ...] = ("fixed", "events")

FRAME_SECONDS = 0.020  # short-frame RMS for the noise floor and event detection
FLOOR_PERCENTILE = 10.0  # the noise floor is this percentile of frame levels (dBFS)
START_MARGIN_DB = 12.0  # an event starts this far above the floor ...
STAY_MARGIN_DB = 6.0  # ... and lasts while the level stays this far above it (hysteresis)
MIN_START_DBFS = -60.0  # never start an event below this level, however quiet the floor is
MIN_GAP_SECONDS = 0.25  # events closer than this are one event (syllables of one word)
MIN_EVENT_SECONDS = 0.06  # shorter blips (clicks) are not events
QUIET_EVENT_DB = 25.0  # events this far below the loudest one are background sounds, not takes
CONTINUOUS_FRACTION = 0.6  # events covering more than this share of the recording: continuous sound
CONTINUOUS_MEDIAN = 0.33  # ... or a median level this far up from the floor towards the loud level
STEADY_DBFS = -45.0  # ... or a steady sound (no events) at least this loud: a machine, a tone
SILENT_DBFS = SILENT_WINDOW_DB  # a window whose RMS is below this is silence (core.levels)
CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped ...
CLIPPED_FRACTION = 0.001  # ... and a window with more than this share of them is dropped

DROP_SILENT = "silent"
DROP_CLIPPED = "clipped"
DROP_TOO_SHORT = "too short"
DROP_NO_EVENTS = "no sound above the noise floor"
DROP_QUIET = "too quiet"


@dataclass
class Extraction:
    """The result of cutting one recording: clips and why other windows were dropped.

    `clips`: float32 [clip_samples] each; `starts`: the sample offset of each clip in the recording
    (negative when a short recording was padded); `mode`: the mode actually used ("fixed" when
    `events` fell back); `paths`/`recording`: filled in when the clips were stored in a project.
    """

    clips: list[np.ndarray]
    starts: list[int]
    dropped: dict[str, int]
    mode: str
    requested_mode: str
    events: int = 0
    seconds: float = 0.0
    noise_floor_dbfs: float | None = None
    paths: list[Path] = field(default_factory=list)
    recording: Path | None = None
    duplicates: int = 0

    @property
    def fell_back(self) -> bool:
        return self.mode != self.requested_mode

    def summary(self) -> str:
        """One readable line, e.g. '10 clips from 20.0 s (events: 10 sounds); dropped 1 clipped'."""
        how = f"{self.mode}"
        if self.mode == "events":
            how += f": {self.events} sound{'s' if self.events != 1 else ''}"
        elif self.fell_back:
            how += ", continuous sound"
        count = len(self.clips)
        text = f"{count} clip{'s' if count != 1 else ''} from {self.seconds:.1f} s ({how})"
        if self.dropped:
            text += "; dropped " + ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items()))
        if self.duplicates:
            text += f"; {self.duplicates} already in the project"
        return text


def level_dbfs(y: np.ndarray) -> float:
    """RMS level of `y: float32 [n]` around its mean, in dBFS (-120 for silence).

    The mean is removed so that a microphone's DC offset does not count as sound."""
    if y.size == 0:
        return -120.0
    rms = float(np.std(y, dtype=np.float64))
    return 20.0 * float(np.log10(max(rms, 1e-6)))


def frame_levels(y: np.ndarray, frame: int) -> np.ndarray:
    """`level_dbfs` of consecutive `frame`-sample frames: float64 [n // frame]."""
    n = y.size // frame
    if n == 0:
        return np.zeros(0)
    frames = y[: n * frame].astype(np.float64).reshape(n, frame)
    return 20.0 * np.log10(np.maximum(frames.std(axis=1), 1e-6))


def drop_reason(clip: np.ndarray) -> str | None:
    """Why a window is not a usable sample (silent or clipped), or None if it is."""
    if level_dbfs(clip) < SILENT_DBFS:
        return DROP_SILENT
    if np.count_nonzero(np.abs(clip) >= CLIP_LEVEL) > CLIPPED_FRACTION * clip.size:
        return DROP_CLIPPED
    return None


@dataclass(frozen=True)
class Events:
    """Sound events found in a recording: sample ranges, and the level statistics behind them."""

    spans: list[tuple[int, int]]
    floor_dbfs: float
    quiet: int  # events dropped for being far quieter than the loudest
    continuous: bool  # the sound hardly ever drops to the floor (music, machines)


def find_events(y: np.ndarray, sample_rate: int) -> Events:
    """Sound events in `y: float32 [n]` as (start, end) sample ranges.

    The floor is a low percentile of 20 ms frame levels (dBFS); an event starts above floor + 12 dB
    and lasts while the level stays above floor + 6 dB; events closer than 0.25 s are merged, blips
    under 60 ms and events 25 dB below the loudest are ignored. The recording is `continuous` when
    events cover most of it, when its median level sits well up from the floor (speech between
    pauses has a median near the floor, music does not), or when it is a steady sound above -45 dBFS.
    """
    frame = max(1, int(round(FRAME_SECONDS * sample_rate)))
    levels = frame_levels(y, frame)
    if levels.size == 0:
        return Events([], -120.0, 0, False)
    floor, median, loud = (float(v) for v in np.percentile(levels, [FLOOR_PERCENTILE, 50.0, 95.0]))
    start_at = max(floor + START_MARGIN_DB, MIN_START_DBFS)
    stay_at = start_at - (START_MARGIN_DB - STAY_MARGIN_DB)
    spans: list[list[int]] = []
    active = False
    for i, level in enumerate(levels):
        if not active and level >= start_at:
            active = True
            spans.append([i, i + 1])
        elif active and level >= stay_at:
            spans[-1][1] = i + 1
        elif active:
            active = False
    min_gap = int(round(MIN_GAP_SECONDS / FRAME_SECONDS))
    merged: list[list[int]] = []
    for span in spans:
        if merged and span[0] - merged[-1][1] < min_gap:
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    min_frames = max(1, int(round(MIN_EVENT_SECONDS / FRAME_SECONDS)))
    merged = [span for span in merged if span[1] - span[0] >= min_frames]
    peaks = [float(levels[s:e].max()) for s, e in merged]
    loudest = max(peaks, default=-120.0)
    kept = [span for span, peak in zip(merged, peaks, strict=True) if peak >= loudest - QUIET_EVENT_DB]
    covered = sum(e - s for s, e in kept) / levels.size
    spread = loud - floor  # stationary noise has almost none: its median says nothing then
    dense = spread >= STAY_MARGIN_DB and median - floor > CONTINUOUS_MEDIAN * spread
    steady = loud > MIN_START_DBFS and dense
    constant = not kept and loud >= STEADY_DBFS
    continuous = covered > CONTINUOUS_FRACTION or steady or constant
    events = [(s * frame, min(e * frame, y.size)) for s, e in kept]
    return Events(events, floor, len(merged) - len(kept), continuous)


def event_windows(events: list[tuple[int, int]], n: int, clip: int) -> list[int]:
    """Start offsets of clip windows: one centred on each event, consecutive ones over long events."""
    starts: list[int] = []
    for begin, end in events:
        count = max(1, -(-(end - begin) // clip))
        first = (begin + end) // 2 - (count * clip) // 2
        for k in range(count):
            start = min(max(first + k * clip, 0), n - clip)
            if not starts or start != starts[-1]:
                starts.append(start)
    return starts


def fixed_windows(n: int, clip: int) -> tuple[list[int], int]:
    """Start offsets of contiguous windows, plus 1 if a tail of a quarter to half a clip is left over.

    A tail of at least half a clip gets a window aligned to the end; a shorter one is dropped (and
    counted when it is more than a quarter of a clip, i.e. more than rounding of the length).
    """
    starts = list(range(0, n - clip + 1, clip))
    tail = n - len(starts) * clip
    if tail >= clip / 2:
        starts.append(n - clip)
        return starts, 0
    return starts, int(tail > clip / 4)


def _check(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise AudioError(f"a recording must be mono (one dimension), got shape {y.shape}",
                         "mix the channels down first (core.audio.to_mono)")
    if y.size == 0:
        raise AudioError("the recording is empty", "record again")
    y = y.astype(np.float32, copy=False)
    if not np.all(np.isfinite(y)):
        raise AudioError("the recording holds invalid values (NaN or infinity)", "record again")
    return y


def _padded(y: np.ndarray, clip: int) -> tuple[np.ndarray, int]:
    before = (clip - y.size) // 2
    out = np.zeros(clip, dtype=np.float32)
    out[before : before + y.size] = y
    return out, -before


def extract(y: np.ndarray, audio: AudioSpec, *, mode: str = "events") -> Extraction:
    """Cut `y: float32 [n]` (mono, at `audio.sample_rate`) into `audio.clip_samples` clips."""
    if mode not in MODES:
        raise AudioError(f"unknown extraction mode {mode!r}", "use fixed or events")
    y = _check(y)
    clip = audio.clip_samples
    result = Extraction([], [], {}, mode=mode, requested_mode=mode, seconds=y.size / audio.sample_rate)
    dropped: dict[str, int] = {}
    if y.size <= clip:
        padded, start = _padded(y, clip) if y.size < clip else (y.copy(), 0)
        candidates = [(start, padded)]
        if mode == "events":
            result.events = 1
    else:
        starts: list[int] = []
        if mode == "events":
            found = find_events(y, audio.sample_rate)
            result.noise_floor_dbfs = round(found.floor_dbfs, 1)
            if found.continuous:
                result.mode = "fixed"
            elif not found.spans:
                dropped[DROP_NO_EVENTS] = 1
            else:
                result.events = len(found.spans)
                starts = event_windows(found.spans, y.size, clip)
                if found.quiet:
                    dropped[DROP_QUIET] = found.quiet
        if result.mode == "fixed":
            starts, short_tail = fixed_windows(y.size, clip)
            if short_tail:
                dropped[DROP_TOO_SHORT] = short_tail
        candidates = [(s, y[s : s + clip].copy()) for s in starts]
    for start, window in candidates:
        reason = drop_reason(window)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
        else:
            result.clips.append(window)
            result.starts.append(start)
    result.dropped = dropped
    return result
