"""Evaluation: confusion matrix, per-class precision and recall, and the test clips the model got wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelError


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    support: int


@dataclass(frozen=True)
class Mistake:
    file: str
    label: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class Evaluation:
    """How a model did on labelled clips. `confusion[i][j]`: clips of class i predicted as class j."""

    labels: list[str]
    accuracy: float
    confusion: list[list[int]]
    per_class: list[ClassScore]
    mistakes: list[Mistake]

    @property
    def count(self) -> int:
        return int(sum(sum(row) for row in self.confusion))

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "accuracy": self.accuracy,
            "count": self.count,
            "confusion": [list(row) for row in self.confusion],
            "per_class": [vars(c) for c in self.per_class],
            "mistakes": [vars(m) for m in self.mistakes],
        }


def evaluate_scores(scores: np.ndarray, targets: np.ndarray, labels: Sequence[str],
                    files: Sequence[str] | None = None) -> Evaluation:
    """Score `float [n, n_labels]` against `targets: int [n]`; `files` names the clips in mistakes."""
    scores = np.asarray(scores)
    targets = np.asarray(targets, dtype=np.int64)
    k = len(labels)
    if scores.ndim != 2 or scores.shape[1] != k or len(targets) != len(scores):
        raise ValueError(f"scores {scores.shape} do not match {len(targets)} targets and {k} labels")
    predicted = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (targets, predicted), 1)
    per_class = []
    for i, label in enumerate(labels):
        predicted_i, actual_i = confusion[:, i].sum(), confusion[i].sum()
        per_class.append(ClassScore(label, float(confusion[i, i] / predicted_i) if predicted_i else 0.0,
                                    float(confusion[i, i] / actual_i) if actual_i else 0.0, int(actual_i)))
    names = list(files) if files is not None else [str(i) for i in range(len(targets))]
    mistakes = [Mistake(names[i], labels[targets[i]], labels[predicted[i]], float(scores[i, predicted[i]]))
                for i in np.flatnonzero(predicted != targets)]
    accuracy = float((predicted == targets).mean()) if len(targets) else 0.0
    return Evaluation(list(labels), accuracy, confusion.tolist(), per_class, mistakes)


def evaluate_project(root: Path) -> Evaluation:
    """Re-run the project's latest model (TFLite) on its saved test split."""
    from core.audio import load
    from core.classifier import load_classifier
    from core.features import fit_clip

    classifier = load_classifier(root)
    test = classifier.metadata.get("test_split", [])
    files, clips, targets = [], [], []
    for item in test:
        path = Path(root) / item["file"]
        if path.exists() and item["label"] in classifier.labels:
            files.append(item["file"])
            clips.append(fit_clip(load(path, classifier.audio.sample_rate), classifier.audio.clip_samples))
            targets.append(classifier.labels.index(item["label"]))
    if not clips:
        raise ModelError("none of the model's test clips are left in the project",
                         "train again to make a new test split")
    scores = classifier.scores_batch(np.stack(clips))
    return evaluate_scores(scores, np.array(targets), classifier.labels, files)
