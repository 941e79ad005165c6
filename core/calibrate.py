"""Calibration: replay a long test stream through the live classifier and choose its threshold and
smoothing.

The stream is made of sound the model did not train on: the sound part of each test-split clip,
placed at random times over Background Noise (the project's recordings and any extra noise files),
3-7 s apart, or further when a sound is heard longer (long clips, wide smoothing), so that each
sound's span ends at least 1 s before the next sound. The model runs once per window, through
`core.infer.StreamingClassifier` exactly as `listen` runs it; every threshold x smoothing setting is
then replayed from the stored window scores through the same class with a model that hands those
scores back, so a grid of 80 settings costs little more than the one pass.

Counting, per setting: a sound is heard by a decision from its start until its end + one clip + the
smoothing span (the last window whose smoothed scores include it). The first decision of the sound's
own label while it is heard is a hit (if two sounds are heard at once, it goes to the earlier one
not yet reported); every other decision is a false activation (a label reported where none was
placed): in the noise, or while another sound is heard (a confusion: another label, or the same
word reported twice). A placed sound without a hit is a miss. The delay is the decision's time
minus the sound's end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import EarshotError
from core.infer import StreamingClassifier, StreamSettings
from core.spec import BACKGROUND_NOISE, AudioSpec
from core.teststream import PlacedSound, SoundStream, build_stream, gap_after

THRESHOLDS = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 ... 0.95
SMOOTHING = (1, 2, 3, 4, 5, 6)
MISS_TOLERANCE = 0.03  # on the calibration stream; 2 points of margin keep new sound within 5
MIN_GAIN_EVENTS = 2  # fewer false activations than this on the stream is chance, not a better setting
MIN_GAIN_SHARE = 0.10
SETTINGS_SECTION = "validate"
CALIBRATION_SECTION = "calibration"
RULE = ("the fewest false activations per hour among the settings that miss at most 3 points more than "
        "the default (threshold 0.5, smoothing 3) on the same stream; the default stays unless another "
        "setting removes at least 2 false activations and 10% of them (less is chance); ties go to the "
        "setting whose neighbours (one threshold step or one smoothing window away) have the fewest, "
        "then to fewer misses, then to the shorter delay")


class CalibrationError(EarshotError):
    """The project cannot be calibrated (no model, no test split, no noise)."""


__all__ = ["CalibrationError", "PlacedSound", "SoundStream", "build_stream", "calibrate_project", "recommend",
           "replay", "score_windows", "sweep"]


@dataclass
class WindowTrack:
    """The model's raw scores for every window of a stream: `times float [n]`, `raw float32 [n, k]`."""

    labels: list[str]
    times: np.ndarray
    raw: np.ndarray
    hop_seconds: float
    seconds: float


@dataclass(frozen=True)
class Outcome:
    """How one setting did on the stream."""

    threshold: float
    smooth: int
    sounds: int
    detected: int
    false_activations: int  # every report that is not a hit
    confusions: int  # the false activations while a placed sound was heard (another label, a repeat)
    false_per_hour: float
    miss_rate: float
    delay_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["false_per_hour"] = round(self.false_per_hour, 2)
        data["miss_rate"] = round(self.miss_rate, 4)
        data["delay_ms"] = None if self.delay_ms is None else round(self.delay_ms, 1)
        return data


@dataclass
class Calibration:
    """Every setting's outcome, the recommendation, and the current and default settings' outcomes."""

    curve: list[Outcome]
    recommended: Outcome
    current: Outcome
    default: Outcome
    stream_seconds: float
    sounds: int
    windows: int
    seed: int
    seconds_taken: float
    rule: str = RULE
    noise: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"recommended": self.recommended.to_dict(), "current": self.current.to_dict(),
                "default": self.default.to_dict(),
                "curve": [o.to_dict() for o in self.curve], "rule": self.rule,
                "stream": {"seconds": round(self.stream_seconds, 2), "sounds": self.sounds,
                           "windows": self.windows, "seed": self.seed, "noise": self.noise},
                "seconds": round(self.seconds_taken, 2)}


# -- scoring and replaying --------------------------------------------------------------------


class _ReplayModel:
    """A ScoresModel that hands back stored window scores in order (the audio is ignored)."""

    def __init__(self, labels: Sequence[str], audio: AudioSpec, raw: np.ndarray) -> None:
        self.labels: Sequence[str] = list(labels)
        self.audio, self.raw, self.next = audio, raw, 0

    def scores(self, clip: np.ndarray) -> np.ndarray:
        row = self.raw[self.next]
        self.next += 1
        return row


class _BatchedModel:
    """A ScoresModel over a known stream: when the streaming classifier asks for window k, it scores
    windows k..k+BATCH-1 at once with the model's `scores_batch` (5x faster than one by one) and hands
    them out in turn, each only after checking the classifier's clip is exactly the window it scored."""

    BATCH = 32

    def __init__(self, model: Any, stream: np.ndarray, hop_samples: int) -> None:
        self.model, self.stream, self.hop = model, stream, hop_samples
        self.labels: Sequence[str] = list(model.labels)
        self.audio = model.audio
        self.size = model.audio.clip_samples
        self.next = 0
        self.ready: dict[int, np.ndarray] = {}

    def _end(self, k: int) -> int:
        return self.size + k * self.hop

    def scores(self, clip: np.ndarray) -> np.ndarray:
        k, self.next = self.next, self.next + 1
        end = self._end(k)
        if k not in self.ready and end <= self.stream.size:
            ks = [j for j in range(k, k + self.BATCH) if self._end(j) <= self.stream.size]
            batch = np.stack([self.stream[self._end(j) - self.size:self._end(j)] for j in ks])
            self.ready = dict(zip(ks, np.asarray(self.model.scores_batch(batch)), strict=True))
        row = self.ready.pop(k, None)
        if row is None or not np.array_equal(clip, self.stream[end - self.size:end]):
            return np.asarray(self.model.scores(clip))
        return row


def score_windows(model: Any, stream: SoundStream, *, hop_seconds: float = StreamSettings.hop_seconds,
                  on_progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None) -> WindowTrack:
    """Run the model once per window of the stream (as `listen` does) and keep the raw scores.

    Windows are cut by `StreamingClassifier` itself; a model with `scores_batch` scores them in
    batches (the same numbers, computed together)."""
    hop = max(1, int(round(hop_seconds * stream.sample_rate)))
    scorer = _BatchedModel(model, stream.audio, hop) if callable(getattr(model, "scores_batch", None)) \
        else model
    streaming = StreamingClassifier(scorer, StreamSettings(hop_seconds=hop_seconds, smooth_windows=1,
                                                           threshold=1.0))
    if streaming.sample_rate != stream.sample_rate:
        raise CalibrationError(f"the stream is {stream.sample_rate} Hz but the model needs "
                               f"{streaming.sample_rate} Hz", "build the stream at the model's rate")
    times: list[float] = []
    raw: list[np.ndarray] = []
    block = stream.sample_rate
    for start in range(0, stream.audio.size, block):
        if cancel is not None and cancel.is_set():
            raise CalibrationError("calibration cancelled", "run it again when ready")
        for window in streaming.process(stream.audio[start:start + block]):
            times.append(window.time)
            raw.append(window.raw)
        if on_progress is not None:
            on_progress(min(start + block, stream.audio.size), stream.audio.size)
    k = len(streaming.labels)
    return WindowTrack(list(streaming.labels), np.array(times, dtype=np.float64),
                       np.stack(raw) if raw else np.zeros((0, k), np.float32), hop_seconds, stream.seconds)


def replay(track: WindowTrack, audio: AudioSpec, settings: StreamSettings) -> list[tuple[float, str]]:
    """The decisions `(time, label)` the streaming classifier makes with `settings` on the track."""
    model = _ReplayModel(track.labels, audio, track.raw)
    streaming = StreamingClassifier(model, settings)
    silence = np.zeros(int(round(track.seconds * audio.sample_rate)), dtype=np.float32)
    decisions: list[tuple[float, str]] = []
    for start in range(0, silence.size, audio.sample_rate * 60):
        for window in streaming.process(silence[start:start + audio.sample_rate * 60]):
            if window.decision is not None:
                decisions.append((window.decision.time, window.decision.label))
    return decisions


def heard_seconds(clip_seconds: float, smooth: int, hop_seconds: float) -> float:
    """How long after its end a sound is still heard: one clip plus the smoothing span."""
    return clip_seconds + (smooth - 1) * hop_seconds


def count(decisions: Iterable[tuple[float, str]], sounds: Sequence[PlacedSound], *, seconds: float,
          threshold: float, smooth: int, hop_seconds: float, clip_seconds: float) -> Outcome:
    """Hits, false activations, confusions, misses and delay of one setting's decisions (module doc)."""
    span = heard_seconds(clip_seconds, smooth, hop_seconds)
    starts = np.array([s.start for s in sounds], dtype=np.float64)
    until = np.array([s.end for s in sounds], dtype=np.float64) + span + 1e-9
    reported = [False] * len(sounds)
    delays: list[float] = []
    false = confused = 0
    for when, label in decisions:
        heard = np.flatnonzero((starts < when) & (when <= until)).tolist()  # every sound heard at `when`
        own = [i for i in heard if sounds[i].label == label and not reported[i]]
        if own:
            reported[own[0]] = True
            delays.append(when - sounds[own[0]].end)
        else:
            false += 1
            confused += int(bool(heard))
    detected = sum(reported)
    hours = seconds / 3600.0
    return Outcome(threshold, smooth, len(sounds), detected, false, confused, false / hours if hours else 0.0,
                   1.0 - detected / len(sounds) if sounds else 0.0,
                   1000.0 * float(np.mean(delays)) if delays else None)


def recommend(curve: Sequence[Outcome], default: Outcome, *, hours: float,
              miss_tolerance: float = MISS_TOLERANCE) -> Outcome:
    """The setting chosen by RULE; `default` is the default setting's outcome on the `hours` long stream."""
    allowed = default.miss_rate + miss_tolerance
    grid = {(o.threshold, o.smooth): o for o in curve}
    steps = sorted({o.threshold for o in curve})

    def neighbours(o: Outcome) -> float:
        i = steps.index(o.threshold)
        near = [(steps[j], o.smooth) for j in (i - 1, i + 1) if 0 <= j < len(steps)]
        near += [(o.threshold, o.smooth + d) for d in (-1, 1)]
        return sum(grid[key].false_per_hour for key in near if key in grid)

    candidates = [o for o in curve if o.miss_rate <= allowed + 1e-9]
    best = min(candidates, key=lambda o: (o.false_per_hour, neighbours(o), o.miss_rate,
                                          o.delay_ms if o.delay_ms is not None else 1e9))
    gain = default.false_per_hour - best.false_per_hour
    if gain < max(MIN_GAIN_EVENTS / hours, MIN_GAIN_SHARE * default.false_per_hour) - 1e-9:
        return default
    return best


def sweep(track: WindowTrack, stream: SoundStream, audio: AudioSpec, *,
          thresholds: Sequence[float] = THRESHOLDS, smoothing: Sequence[int] = SMOOTHING,
          extra: Sequence[tuple[float, int]] = (), suppress_seconds: float = StreamSettings.suppress_seconds,
          cancel: threading.Event | None = None,
          on_progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Replay and count every threshold x smoothing setting (and the `extra` ones)."""
    pairs = list(dict.fromkeys([(float(t), int(s)) for s in smoothing for t in thresholds] +
                               [(float(t), int(s)) for t, s in extra]))
    outcomes = []
    for n, (threshold, smooth) in enumerate(pairs):
        if cancel is not None and cancel.is_set():
            raise CalibrationError("calibration cancelled", "run it again when ready")
        settings = StreamSettings(hop_seconds=track.hop_seconds, smooth_windows=smooth, threshold=threshold,
                                  suppress_seconds=suppress_seconds)
        outcomes.append(count(replay(track, audio, settings), stream.sounds, seconds=stream.seconds,
                              threshold=threshold, smooth=smooth, hop_seconds=track.hop_seconds,
                              clip_seconds=audio.clip_seconds))
        if on_progress is not None:
            on_progress(n + 1, len(pairs))
    return outcomes


# -- a project --------------------------------------------------------------------------------


Material = tuple[list[tuple[str, np.ndarray]], list[np.ndarray]]


def project_material(project: Any, classifier: Any, noise_files: Sequence[Path] = ()) -> Material:
    """The model's test-split clips (all but Background Noise) and the noise to place them over:
    the project's Background Noise recordings (else its test-split noise clips) and `noise_files`."""
    from core.audio import load

    rate = classifier.audio.sample_rate
    clips: list[tuple[str, np.ndarray]] = []
    noise_clips: list[np.ndarray] = []
    for item in classifier.metadata.get("test_split", []):
        path = Path(project.root) / item["file"]
        if not path.is_file() or item["label"] not in classifier.labels:
            continue
        y = load(path, rate)
        if item["label"] == BACKGROUND_NOISE:
            noise_clips.append(y)
        else:
            clips.append((item["label"], y))
    noise: list[np.ndarray] = []
    if project.has_class(BACKGROUND_NOISE):
        noise = [load(p, rate) for p in project.recordings(project.get_class(BACKGROUND_NOISE))]
    if not noise:
        noise = [np.concatenate(noise_clips)] if noise_clips else []
    noise += [load(Path(p), rate) for p in noise_files]
    return clips, noise


def calibrate_project(project: Any, *, minutes: float = 10.0, seed: int = 0, noise_files: Sequence[Path] = (),
                      save: bool = True, on_progress: Callable[[str, float], None] | None = None,
                      cancel: threading.Event | None = None) -> Calibration:
    """Calibrate the project's model on a `minutes` long stream; save the recommendation if `save`.

    `on_progress(stage, fraction)` reports "scoring" and "replaying" from 0 to 1.
    """
    from core.classifier import load_classifier

    if not 0.5 <= minutes <= 60:
        raise CalibrationError(f"a stream of {minutes:g} minutes is out of range", "use 0.5 to 60 minutes")
    started = time.perf_counter()
    classifier = load_classifier(project.root)
    saved = project.settings(SETTINGS_SECTION)
    defaults = StreamSettings()
    hop = float(saved.get("hop_seconds", defaults.hop_seconds))
    current = (float(saved.get("threshold", defaults.threshold)),
               int(saved.get("smooth_windows", defaults.smooth_windows)))
    clips, noise = project_material(project, classifier, noise_files)
    longest = heard_seconds(classifier.audio.clip_seconds, max(*SMOOTHING, current[1]), hop)
    stream = build_stream(clips, noise, sample_rate=classifier.audio.sample_rate, seconds=minutes * 60,
                          seed=seed, gap_seconds=gap_after(longest))
    if not stream.sounds:
        raise CalibrationError("the stream is too short to place any sound", "use more --minutes")
    report = on_progress or (lambda _stage, _fraction: None)
    track = score_windows(classifier, stream, hop_seconds=hop, cancel=cancel,
                          on_progress=lambda done, total: report("scoring", done / total))
    default = (defaults.threshold, defaults.smooth_windows)
    curve = sweep(track, stream, classifier.audio, extra=[current, default], cancel=cancel,
                  on_progress=lambda done, total: report("replaying", done / total))
    by_setting = {(o.threshold, o.smooth): o for o in curve}
    chosen = recommend(curve, by_setting[default], hours=stream.seconds / 3600)
    result = Calibration(curve, chosen, by_setting[current], by_setting[default], stream.seconds,
                         len(stream.sounds), len(track.times), seed, time.perf_counter() - started,
                         noise=[str(p) for p in noise_files])
    if save:
        save_recommendation(project, result, classifier.metadata.get("created"))
    return result


def save_recommendation(project: Any, result: Calibration, model_created: str | None = None) -> None:
    """Store the recommended threshold and smoothing where `listen` and the Validate tab read them."""
    values = {**project.settings(SETTINGS_SECTION), "threshold": result.recommended.threshold,
              "smooth_windows": result.recommended.smooth}
    project.set_settings(SETTINGS_SECTION, values)
    project.set_settings(CALIBRATION_SECTION, {**result.recommended.to_dict(), "model": model_created,
                                               "stream_seconds": round(result.stream_seconds, 1),
                                               "seed": result.seed,
                                               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
