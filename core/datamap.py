"""The data map: every sample of a project as a point in 2-D, and the samples that look wrong.

Each sample is described by the model's embedding when the model has one (`embed(clips)`), else by
log-mel statistics (per band: mean, spread, and the loudest tenth of the frames, so a word counts
the same wherever it sits in its clip). The description is standardised; PCA gives the 2-D map, and
nearest neighbours are searched in the first PCA components. Suspects:

- neighbours: most of a sample's nearest neighbours belong to one other class (mislabelled?);
- model: the trained model hears another class in it with high confidence;
- silent: nothing louder than -50 dBFS (a muted mic), or, outside Background Noise, nothing louder
  than the Background Noise samples usually are;
- duplicate: almost the same log-mel picture as a nearby sample (cut twice from one recording?).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.spec import BACKGROUND_NOISE

NEIGHBOURS = 5
MODEL_CONFIDENCE = 0.8
SILENT_DBFS = -50.0
DUPLICATE_CORRELATION = 0.985
COMPONENTS = 16


@dataclass(frozen=True)
class MapPoint:
    path: Path
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Suspect:
    """A sample worth a listen: `kind` is neighbours, model, silent or duplicate."""

    path: Path
    label: str
    kind: str
    reason: str


@dataclass
class DataMap:
    labels: list[str]
    points: list[MapPoint]
    suspects: list[Suspect]
    source: str

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        def name(path: Path) -> str:
            return str(path.relative_to(root)) if root is not None else str(path)

        return {"source": self.source, "labels": self.labels,
                "points": [{"file": name(p.path), "label": p.label, "x": round(p.x, 4), "y": round(p.y, 4)}
                           for p in self.points],
                "suspects": [{"file": name(s.path), "label": s.label, "kind": s.kind, "reason": s.reason}
                             for s in self.suspects]}


# -- pure functions ---------------------------------------------------------------------------


def log_mel_statistics(db: np.ndarray) -> np.ndarray:
    """`float32 [n, frames, mels]` log-mel -> `float32 [n, 3 * mels]`: mean, std, loudest-10% mean."""
    energy = db.mean(axis=2)
    top = max(1, db.shape[1] // 10)
    loudest = np.argsort(energy, axis=1)[:, -top:]
    peak = np.take_along_axis(db, loudest[:, :, None], axis=1).mean(axis=1)
    return np.concatenate([db.mean(axis=1), db.std(axis=1), peak], axis=1).astype(np.float32)


def standardise_and_project(x: np.ndarray, components: int = COMPONENTS) -> np.ndarray:
    """Z-score each column of `[n, d]` and return the PCA scores `[n, min(components, n, d)]`."""
    x = np.asarray(x, dtype=np.float64)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = max(2, min(components, len(s)))
    scores = u[:, :k] * s[:k]
    if scores.shape[1] < 2:
        scores = np.pad(scores, ((0, 0), (0, 2 - scores.shape[1])))
    return scores


def nearest(x: np.ndarray, k: int, chunk: int = 512) -> np.ndarray:
    """Indexes `int [n, k]` of each row's k nearest other rows (Euclidean), nearest first."""
    n = len(x)
    k = min(k, n - 1)
    out = np.zeros((n, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    squared = (x ** 2).sum(axis=1)
    for first in range(0, n, chunk):
        rows = slice(first, min(n, first + chunk))
        d = squared[rows, None] + squared[None, :] - 2 * x[rows] @ x.T
        d[np.arange(d.shape[0]), np.arange(first, first + d.shape[0])] = np.inf
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[rows] = np.take_along_axis(part, order, axis=1)
    return out


def neighbour_suspects(targets: np.ndarray, labels: Sequence[str], near: np.ndarray) -> dict[int, str]:
    """Samples whose neighbours are mostly (>= 60%) one other class: index -> reason."""
    found: dict[int, str] = {}
    if near.shape[1] == 0:
        return found
    for i, row in enumerate(near):
        other, votes = Counter(int(targets[j]) for j in row if targets[j] != targets[i]).most_common(1)[0] \
            if any(targets[j] != targets[i] for j in row) else (-1, 0)
        if votes >= 0.6 * len(row):
            found[i] = f"{votes} of its {len(row)} nearest samples are {labels[other]!r}"
    return found


def duplicate_pairs(db: np.ndarray, near: np.ndarray,
                    threshold: float = DUPLICATE_CORRELATION) -> list[tuple[int, int, float]]:
    """Pairs `(i, j, r)` (i < j, j a near neighbour) whose log-mel pictures correlate above `threshold`."""
    flat = db.reshape(len(db), -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-9)
    pairs = {}
    for i, row in enumerate(near):
        for j in row[:3]:
            a, b = sorted((i, int(j)))
            r = float(flat[a] @ flat[b])
            if r >= threshold:
                pairs[(a, b)] = r
    return [(a, b, r) for (a, b), r in sorted(pairs.items())]


def peak_levels(clips: np.ndarray, sample_rate: int) -> np.ndarray:
    """Loudest 50 ms frame of each clip `[n, samples]`, in dBFS."""
    frame = max(1, sample_rate // 20)
    n = clips.shape[1] // frame
    frames = clips[:, :n * frame].reshape(len(clips), n, frame).astype(np.float64)
    rms = np.sqrt((frames ** 2).mean(axis=2)).max(axis=1)
    return 20 * np.log10(np.maximum(rms, 1e-10))


# -- a project --------------------------------------------------------------------------------


def _embedder(classifier: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The model's own `embed(clips) -> [n, d]`, wherever it exposes one (the classifier or its bundle)."""
    for owner in (classifier, getattr(classifier, "bundle", None), getattr(classifier, "ear", None)):
        embed = getattr(owner, "embed", None)
        if callable(embed):
            return embed
    return None


def describe(clips: np.ndarray, db: np.ndarray, classifier: Any) -> tuple[np.ndarray, str]:
    """`[n, d]` descriptions of the clips and where they come from: the model's embedding when it has
    one (a flat vector per clip), else log-mel statistics (what the small CNN sees)."""
    embed = _embedder(classifier) if classifier is not None else None
    if embed is not None:
        vectors = np.asarray(embed(clips), dtype=np.float32)
        if vectors.ndim == 2 and len(vectors) == len(clips):
            return vectors, "PCA of the model's embedding"
    return log_mel_statistics(db), "PCA of log-mel statistics"


def build_map(project: Any, *, classifier: Any = None, use_model: bool = True) -> DataMap:
    """The data map of every sample in the project (see module doc)."""
    from core.audio import load
    from core.features import fit_clip, log_mel_batch
    from core.spec import FeatureSpec

    labels = [c.name for c in project.classes]
    paths: list[Path] = []
    targets: list[int] = []
    for k, info in enumerate(project.classes):
        for path in project.samples(info):
            paths.append(path)
            targets.append(k)
    if not paths:
        return DataMap(labels, [], [], "no samples")
    audio = project.audio
    clips = np.stack([fit_clip(load(p, audio.sample_rate), audio.clip_samples) for p in paths])
    db = log_mel_batch(clips, FeatureSpec.for_audio(audio))
    if use_model and classifier is None:
        classifier = _load_model(project)
    described, source = describe(clips, db, classifier)
    y = np.array(targets)
    scores = standardise_and_project(described)
    near = nearest(scores, NEIGHBOURS)
    points = [MapPoint(p, labels[t], float(s[0]), float(s[1])) for p, t, s in zip(paths, targets, scores,
                                                                                    strict=True)]
    found: dict[int, list[tuple[str, str]]] = {}
    for i, reason in neighbour_suspects(y, labels, near).items():
        found.setdefault(i, []).append(("neighbours", reason))
    if classifier is not None and list(getattr(classifier, "labels", [])) == labels:
        probabilities = np.asarray(classifier.scores_batch(clips))
        for i, row in enumerate(probabilities):
            best = int(row.argmax())
            if best != y[i] and row[best] >= MODEL_CONFIDENCE:
                reason = f"the model hears {labels[best]!r} ({row[best]:.0%})"
                found.setdefault(i, []).append(("model", reason))
    for i, reason in _silent(clips, y, labels, audio.sample_rate).items():
        found.setdefault(i, []).append(("silent", reason))
    for a, b, r in duplicate_pairs(db, near):
        found.setdefault(b, []).append(("duplicate", f"almost the same as {paths[a].name} "
                                                     f"({labels[y[a]]}, r={r:.3f})"))
    suspects = [Suspect(paths[i], labels[y[i]], reasons[0][0], "; ".join(r for _, r in reasons))
                for i, reasons in sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))]
    return DataMap(labels, points, suspects, source)


def _silent(clips: np.ndarray, targets: np.ndarray, labels: Sequence[str],
            sample_rate: int) -> dict[int, str]:
    peaks = peak_levels(clips, sample_rate)
    noise = [i for i, t in enumerate(targets) if labels[t] == BACKGROUND_NOISE]
    room = float(np.median(peaks[noise])) if noise else None
    found = {}
    for i, (peak, t) in enumerate(zip(peaks, targets, strict=True)):
        if peak < SILENT_DBFS:
            found[i] = f"near-silent (loudest 50 ms at {peak:.0f} dBFS)"
        elif room is not None and labels[t] != BACKGROUND_NOISE and peak < room + 3.0:
            found[i] = f"no louder than the Background Noise samples ({peak:.0f} vs {room:.0f} dBFS)"
    return found


def _load_model(project: Any) -> Any:
    from core.classifier import load_classifier
    from core.errors import EarshotError

    try:
        return load_classifier(project.root)
    except EarshotError:
        return None
