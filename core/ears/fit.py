"""Training a model on pretrained ears: the project's clips, their cached embeddings, the head.

`core.train.train` calls `fit_embedding_model` for the kinds speech, music and speech+music, and
`resolve_kind` for `auto`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.dataset import check_data, class_weights
from core.ears import AUTO, EAR_NAMES, EarError, available_ears, embeddings, kind_ears, open_ear
from core.ears.choose import Choice, choose, recording_groups
from core.ears.head import Cancelled, HeadEpoch, HeadSettings, fit_head
from core.project import Project
from core.runtime.bundle import SMALL
from core.runtime.head import Head
from core.spec import TrainSpec


@dataclass
class ProjectClips:
    """Every sample of a project in label order: paths and class indexes (no features)."""

    labels: list[str]
    paths: list[Path]
    targets: np.ndarray  # int64 [n]
    warnings: list[str]


def project_clips(project: Project, min_samples: int) -> ProjectClips:
    """Check the project's data (TrainingError listing every shortfall) and list its samples."""
    classes = project.classes
    per_class = {info.name: project.samples(info) for info in classes}
    warnings = check_data({name: len(p) for name, p in per_class.items()}, min_samples)
    paths = [p for info in classes for p in per_class[info.name]]
    targets = np.array([k for k, info in enumerate(classes) for _ in per_class[info.name]], dtype=np.int64)
    return ProjectClips([info.name for info in classes], paths, targets, warnings)


def resolve_kind(project: Project, clips: ProjectClips, train_idx: np.ndarray, seed: int,
                 status: Callable[[str], None]) -> Choice:
    """For `auto`: the kind cross-validation prefers on the training clips; small if no ear is installed."""
    status_by_ear = available_ears()
    ready = [name for name in EAR_NAMES if not status_by_ear[name]]
    skipped = {name: why for name, why in status_by_ear.items() if why}
    if not ready:
        return Choice(SMALL, {}, 0, "no pretrained ear is installed", skipped)
    found: dict[str, np.ndarray] = {}
    ears = {}
    for name in ready:
        try:
            ears[name] = open_ear(name, project.audio.sample_rate)
        except EarError as error:
            skipped[name] = error.message
    # The ears run side by side: TFLite releases the GIL, so two cores embed in about half the time.
    with ThreadPoolExecutor(max_workers=max(1, len(ears))) as pool:
        futures = {name: pool.submit(_embed, project, clips, name, status, ear) for name, ear in ears.items()}
        for name, future in futures.items():
            found[name] = future.result()[train_idx]
    if not found:
        return Choice(SMALL, {}, 0, "no pretrained ear could be loaded", skipped)
    status("choosing the model kind (cross-validation by recording)")
    groups = recording_groups([clips.paths[i] for i in train_idx])
    return choose(found, clips.targets[train_idx], groups, seed=seed, skipped=skipped)


def _embed(project: Project, clips: ProjectClips, name: str, status: Callable[[str], None],
           ear: Any = None) -> np.ndarray:
    return embeddings(clips.paths, project.audio, name, project.cache_dir, ear=ear,
                      on_progress=lambda done, total: status(f"{name} embeddings {done}/{total}"))


@dataclass
class HeadFit:
    head: Head
    train_scores: np.ndarray
    test_scores: np.ndarray


def fit_embedding_model(project: Project, clips: ProjectClips, kind: str, train_idx: np.ndarray,
                        test_idx: np.ndarray, spec: TrainSpec, *, status: Callable[[str], None],
                        on_epoch: Callable[[HeadEpoch], None] | None,
                        cancel: threading.Event | None, settings: HeadSettings | None = None) -> HeadFit:
    """Embed every clip with the kind's ears (cached), then train the head in epochs."""
    # missing or damaged weights: one clear error, before any work
    ears = {name: open_ear(name, project.audio.sample_rate) for name in kind_ears(kind)}
    x = np.concatenate([_embed(project, clips, name, status, ear) for name, ear in ears.items()], axis=1)
    y = clips.targets
    status(f"training the {kind} head on {len(train_idx)} clips, testing on {len(test_idx)}")
    weights = class_weights(y[train_idx], len(clips.labels))
    try:
        head = fit_head(x[train_idx], y[train_idx], x[test_idx], y[test_idx], len(clips.labels),
                        epochs=spec.epochs, batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                        seed=spec.seed, class_weights=weights, settings=settings, on_epoch=on_epoch,
                        cancel=cancel)
    except Cancelled:
        from core.train import TrainingCancelled

        raise TrainingCancelled("training cancelled; the previous model is unchanged") from None
    return HeadFit(head, head.scores(x[train_idx]), head.scores(x[test_idx]))


__all__ = ["AUTO", "HeadFit", "ProjectClips", "fit_embedding_model", "project_clips", "resolve_kind"]
