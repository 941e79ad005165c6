"""Training data from a project: the data check, cached features, the stratified split, augmentation.

Features are cached as mel *power* per clip under `<project>/.cache/features/<spec hash>/`, keyed by
the clip's content hash, so retraining never recomputes them. Augmentation works on mel power, where
mixing in Background Noise and changing gain are plain additions and products; speaker and track
variation is modelled by warping the mel axis, stretching the frame axis and a random smooth EQ; then
it converts to dB and applies SpecAugment-style masks, so one epoch of augmented batches costs
milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.audio import load
from core.features import fit_clip, mel_power_batch, power_to_db
from core.project import Project
from core.readiness import check_readiness
from core.spec import BACKGROUND_NOISE, AudioSpec, FeatureSpec


@dataclass(frozen=True)
class Augment:
    """Augmentation strengths (chosen on the benchmark in bench/accuracy.py)."""

    noise_probability: float = 0.5
    snr_db: tuple[float, float] = (5.0, 25.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    max_shift_frames: int = 10
    time_masks: int = 1
    time_mask_frames: int = 10
    freq_masks: int = 1
    freq_mask_bands: int = 6
    # Speaker and track variation, measured together on bench/accuracy.py: fsdd 0.774 -> 0.821 over
    # two unseen speakers (george 0.776 -> 0.886, jackson 0.772 -> 0.756), gtzan5 fold 0 window
    # 0.687 -> 0.690 and 5 s vote 0.733 -> 0.750, speech_commands 0.9095 -> 0.9095.
    freq_warp: tuple[float, float] = (0.85, 1.15)  # mel axis scaled by a random factor (VTLP-like)
    time_stretch: tuple[float, float] = (0.8, 1.2)  # frame axis resampled by a random factor
    eq_db: float = 6.0  # a smooth random gain curve over the mel bands, within +-eq_db


@dataclass
class ClipSet:
    """Every sample of a project, in label order: paths, class indexes and cached mel power."""

    labels: list[str]
    paths: list[Path]
    targets: np.ndarray  # int64 [n]
    power: np.ndarray  # float32 [n, n_frames, n_mels]
    warnings: list[str] = field(default_factory=list)

    @property
    def noise_index(self) -> int | None:
        return self.labels.index(BACKGROUND_NOISE) if BACKGROUND_NOISE in self.labels else None


def check_data(counts: dict[str, int], min_samples: int) -> list[str]:
    """Raise TrainingError listing every shortfall; return warnings (imbalance) otherwise."""
    readiness = check_readiness(counts, min_samples)
    readiness.require()
    return readiness.warnings


def spec_key(audio: AudioSpec, features: FeatureSpec) -> str:
    text = json.dumps({"audio": audio.to_dict(), "features": features.to_dict()}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def cached_mel_power(paths: Sequence[Path], audio: AudioSpec, features: FeatureSpec, cache_dir: Path | None,
                     on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Mel power of each clip file, `float32 [n, n_frames, n_mels]`, computed once per content and spec."""
    out = np.empty((len(paths), features.n_frames, features.n_mels), dtype=np.float32)
    folder = cache_dir / "features" / spec_key(audio, features) if cache_dir is not None else None
    missing: list[tuple[int, str]] = []
    for i, path in enumerate(paths):
        digest, value = read_cache(folder, path, out.shape[1:])
        if value is None:
            missing.append((i, digest))
        else:
            out[i] = value
    for first in range(0, len(missing), 128):
        chunk = missing[first:first + 128]
        clips = np.stack([fit_clip(load(paths[i], audio.sample_rate), features.clip_samples)
                          for i, _ in chunk])
        power = mel_power_batch(clips, features)
        for (i, digest), value in zip(chunk, power, strict=True):
            out[i] = value
            if folder is not None:
                write_cache(folder / f"{digest}.npy", value)
        if on_progress is not None:
            on_progress(min(first + 128, len(missing)), len(missing))
    return out


def read_cache(folder: Path | None, path: Path, shape: tuple[int, ...]) -> tuple[str, np.ndarray | None]:
    """(content digest of the clip file `path`, its cached value of `shape` in `folder`, or None when
    missing or damaged: it is then recomputed)."""
    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    cached = folder / f"{digest}.npy" if folder is not None else None
    if cached is not None and cached.exists():
        try:
            value = np.load(cached)
            if value.shape == tuple(shape):
                return digest, value
        except (OSError, ValueError):
            pass
    return digest, None


def write_cache(path: Path, value: np.ndarray) -> None:
    """Write a cache entry by rename (no fsync: a lost entry is just recomputed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.save(handle, value)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache is an optimisation; a read-only or full disk only costs time


def load_clipset(project: Project, features: FeatureSpec, *, min_samples: int,
                 on_progress: Callable[[int, int], None] | None = None) -> ClipSet:
    """Check the project's data and load every sample's (cached) features."""
    classes = project.classes
    per_class = {info.name: project.samples(info) for info in classes}
    warnings = check_data({name: len(p) for name, p in per_class.items()}, min_samples)
    labels = [info.name for info in classes]
    paths = [p for info in classes for p in per_class[info.name]]
    targets = np.array([k for k, info in enumerate(classes) for _ in per_class[info.name]], dtype=np.int64)
    power = cached_mel_power(paths, project.audio, features, project.cache_dir, on_progress)
    return ClipSet(labels, paths, targets, power, warnings)


def stratified_split(targets: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indexes (train, test): `test_fraction` of each class (at least one, if it has two) in test."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for label in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == label))
        n_test = int(round(test_fraction * len(members)))
        if test_fraction > 0 and len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test.extend(members[:n_test].tolist())
        train.extend(members[n_test:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


def class_weights(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights, `float32 [n_classes]`, averaging 1 over the samples."""
    counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(targets) / (n_classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def augment(power: np.ndarray, noise: np.ndarray | None, spec: FeatureSpec, rng: np.random.Generator,
            settings: Augment) -> np.ndarray:
    """Augmented log-mel features from mel power `float32 [n, frames, mels]` (noise: same layout)."""
    x = power.copy()
    n, frames, mels = x.shape
    if noise is not None and len(noise) and settings.noise_probability > 0:
        picks = rng.integers(0, len(noise), n)
        snr = rng.uniform(*settings.snr_db, n)
        level = x.mean(axis=(1, 2)) / np.maximum(noise[picks].mean(axis=(1, 2)), 1e-12)
        scale = (level * 10.0 ** (-snr / 10.0)) * (rng.random(n) < settings.noise_probability)
        x += noise[picks] * scale[:, None, None].astype(np.float32)
    x *= (10.0 ** (rng.uniform(*settings.gain_db, n) / 10.0)).astype(np.float32)[:, None, None]
    if settings.max_shift_frames:
        limit = settings.max_shift_frames
        shifts = np.asarray(rng.integers(-limit, limit + 1, size=n)).tolist()
        floor = x.min(axis=(1, 2))
        for i, shift in enumerate(shifts):
            if shift:
                x[i] = np.roll(x[i], shift, axis=0)
                if shift > 0:
                    x[i, :shift] = floor[i]
                else:
                    x[i, shift:] = floor[i]
    if settings.freq_warp != (1.0, 1.0):
        x = _resample_axis(x, np.asarray(rng.uniform(*settings.freq_warp, n)), axis=2)
    if settings.time_stretch != (1.0, 1.0):
        x = _resample_axis(x, np.asarray(rng.uniform(*settings.time_stretch, n)), axis=1)
    if settings.eq_db > 0:
        # Three random control points (low, mid, high bands) joined linearly: a mic or room colour.
        points = rng.uniform(-settings.eq_db, settings.eq_db, (n, 3))
        curve = np.stack([np.interp(np.arange(mels), [0, (mels - 1) / 2, mels - 1], p) for p in points])
        x *= (10.0 ** (curve / 10.0)).astype(np.float32)[:, None, :]
    db = power_to_db(x, spec)
    fill = db.mean(axis=(1, 2))
    for i in range(n):
        for _ in range(settings.time_masks):
            width = rng.integers(0, settings.time_mask_frames + 1)
            start = rng.integers(0, frames - width + 1)
            db[i, start:start + width, :] = fill[i]
        for _ in range(settings.freq_masks):
            width = rng.integers(0, settings.freq_mask_bands + 1)
            start = rng.integers(0, mels - width + 1)
            db[i, :, start:start + width] = fill[i]
    return db


def _resample_axis(x: np.ndarray, factors: np.ndarray, *, axis: int) -> np.ndarray:
    """Stretch each clip of `x` `[n, frames, mels]` along `axis` by its factor (linear interpolation).

    A factor above 1 spreads the content out (for mel bands: a lower voice moved up); positions beyond
    the ends repeat the edge value. Frames stretch about the clip centre, mel bands about band 0.
    """
    size = x.shape[axis]
    grid = np.arange(size, dtype=np.float64)
    centre = (size - 1) / 2 if axis == 1 else 0.0
    source = np.clip(centre + (grid[None, :] - centre) / factors[:, None], 0, size - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    frac = (source - low).astype(np.float32)
    shape = (len(x), size, 1) if axis == 1 else (len(x), 1, size)
    low, high, frac = low.reshape(shape), high.reshape(shape), frac.reshape(shape)
    return (np.take_along_axis(x, low, axis=axis) * (1 - frac)
            + np.take_along_axis(x, high, axis=axis) * frac).astype(np.float32)
