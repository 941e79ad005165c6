"""`auto`: choose the model kind for a project by cross-validation on its own clips.

Clips cut from one recording are near copies, so folds are grouped by recording (the prefix of a
sample's file name, before its content hash) wherever a class has enough recordings. Each candidate
(every installed ear, and their concatenation) is scored by a ridge classifier on the cached
embeddings; the best mean fold accuracy wins, a concatenation only when it beats its best part by
more than `MARGIN`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MARGIN = 0.01
MAX_FOLDS = 5
MAX_CLIPS = 600  # cross-validate on at most this many training clips


@dataclass(frozen=True)
class Choice:
    """What `auto` picked and why: mean cross-validated accuracy per candidate kind."""

    kind: str
    scores: dict[str, float]
    folds: int
    reason: str = ""
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why it was not a candidate

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "folds": self.folds, "reason": self.reason, "skipped": dict(self.skipped)}

    def summary(self) -> str:
        """One line: 'auto chose speech (speech 0.97, music 0.61, speech+music 0.96; 5 folds by ...)'."""
        scores = ", ".join(f"{k} {v:.2f}" for k, v in self.scores.items())
        detail = f"{scores}; {self.folds} folds by recording" if self.scores else self.reason
        return f"auto chose {self.kind} ({detail})"


def recording_groups(paths: Sequence[Path]) -> list[str]:
    """The recording each clip was cut from: its file name without the content hash."""
    return [re.sub(r"-[0-9a-f]{12}$", "", Path(p).stem) for p in paths]


def _folds(targets: np.ndarray, groups: list[str], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep each recording's clips together. A class recorded in fewer pieces
    than there are folds (say one long take, or clips named only by their class) is split clip by clip,
    since it could not be both trained on and tested otherwise."""
    from sklearn.model_selection import StratifiedGroupKFold

    smallest = int(np.bincount(targets).min())
    k = min(MAX_FOLDS, max(smallest, 2))
    if smallest < 2:
        return []
    effective = list(groups)
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        if len({groups[i] for i in members}) < k:
            for i in members:
                effective[i] = f"{groups[i]}#{i}"
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(targets)), targets, effective)
            if len(np.unique(targets[tr])) > 1 and len(te)]


def cross_validate(x: np.ndarray, targets: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean held-out accuracy of a standardised ridge classifier over `folds` (closed form: a few ms
    per fold even for the 1,700 values of speech+music)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = []
    for train, test in folds:
        model = make_pipeline(StandardScaler(), RidgeClassifier(alpha=float(x.shape[1])))
        model.fit(x[train], targets[train])
        scores.append(float((model.predict(x[test]) == targets[test]).mean()))
    return float(np.mean(scores))


def choose(embeddings: dict[str, np.ndarray], targets: np.ndarray, groups: list[str], *, seed: int = 0,
           skipped: dict[str, str] | None = None) -> Choice:
    """Pick among the ears in `embeddings` (`{ear: float32 [n, d]}`) and their concatenation."""
    targets = np.asarray(targets)
    if len(targets) > MAX_CLIPS:  # a stratified sample is enough to rank the candidates
        rng = np.random.default_rng(seed)
        share = MAX_CLIPS / len(targets)
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(targets == k))[
            :max(2, int(round(share * np.sum(targets == k))))] for k in np.unique(targets)]))
        embeddings = {name: x[keep] for name, x in embeddings.items()}
        targets, groups = targets[keep], [groups[i] for i in keep]
    folds = _folds(targets, groups, seed)
    names = list(embeddings)
    if not folds:
        kind = names[0]
        return Choice(kind, {}, 0, "too few recordings to cross-validate: the first installed ear",
                      dict(skipped or {}))
    scores = {name: cross_validate(embeddings[name], targets, folds) for name in names}
    best = max(names, key=lambda n: scores[n])
    if len(names) > 1:
        both = "+".join(names)
        scores[both] = cross_validate(np.concatenate([embeddings[n] for n in names], axis=1), targets, folds)
        if scores[both] > scores[best] + MARGIN:
            best = both
    return Choice(best, scores, len(folds), "", dict(skipped or {}))
