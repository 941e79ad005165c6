"""The data map: positions, and suspects on projects with a known mistake in them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.datamap import build_map, duplicate_pairs, log_mel_statistics, nearest, neighbour_suspects
from core.project import Project
from core.spec import BACKGROUND_NOISE
from tests.train.conftest import tone_clips, tone_project


def mislabel(project: Project, source: str, target: str) -> Path:
    """Move one sample of `source` into the folder of `target` (the mistake a user makes)."""
    path = project.samples(project.get_class(source))[0]
    moved = project.samples_dir(project.get_class(target)) / f"moved-{path.name}"
    os.replace(path, moved)
    return moved


def test_a_mislabelled_sample_is_the_suspect(tmp_path: Path) -> None:
    project = tone_project(tmp_path / "tones")
    wrong = mislabel(project, "high", "low")
    data_map = build_map(project, use_model=False)
    assert data_map.source == "PCA of log-mel statistics"
    assert len(data_map.points) == 72
    assert {p.label for p in data_map.points} == {BACKGROUND_NOISE, "low", "high"}
    by_path = {s.path: s for s in data_map.suspects}
    assert wrong in by_path
    assert by_path[wrong].kind == "neighbours" and "'high'" in by_path[wrong].reason
    assert len([s for s in data_map.suspects if s.kind == "neighbours"]) <= 2


def test_silent_samples_and_near_duplicates_are_suspects(tmp_path: Path, rng: np.random.Generator) -> None:
    project = tone_project(tmp_path / "tones")
    low = project.get_class("low")
    [quiet] = project.add_clips(low, [rng.normal(0, 0.0005, 16000).astype(np.float32)], prefix="quiet")
    original = tone_clips(np.random.default_rng(99), 300.0, 1)[0]
    nudged = (original * 1.05 + rng.normal(0, 0.0005, original.size)).astype(np.float32)
    first, second = project.add_clips(low, [original, nudged], prefix="twice")
    data_map = build_map(project, use_model=False)
    assert "near-silent" in next(s.reason for s in data_map.suspects if s.path == quiet)
    assert any(s.kind == "duplicate" and s.path in {first, second} for s in data_map.suspects)


def test_the_model_points_at_the_mislabelled_sample(tmp_path: Path) -> None:
    from core.train import train
    from tests.train.conftest import TONE_SPEC

    project = tone_project(tmp_path / "tones")
    wrong = mislabel(project, "low", "high")
    train(project, TONE_SPEC)
    data_map = build_map(project)
    suspect = next(s for s in data_map.suspects if s.path == wrong)
    assert "'low'" in suspect.reason
    assert data_map.suspects[0].path == wrong  # neighbours and model agree: listed first


def test_nearest_neighbours_and_their_votes() -> None:
    x = np.array([[0.0, 0], [0.1, 0], [0.2, 0], [5, 5], [5.1, 5], [0.15, 0.05]])
    near = nearest(x, 2)
    assert near[0].tolist() == [1, 5] and near[3][0] == 4
    targets = np.array([0, 0, 0, 1, 1, 1])  # sample 5 sits among class 0
    found = neighbour_suspects(targets, ["a", "b"], nearest(x, 3))
    assert list(found) == [5] and "'a'" in found[5]


def test_duplicates_need_almost_the_same_picture(rng: np.random.Generator) -> None:
    db = rng.normal(0, 1, (4, 20, 8)).astype(np.float32)
    db[2] = db[0] + rng.normal(0, 0.05, (20, 8))
    near = nearest(log_mel_statistics(db).astype(np.float64), 3)
    assert [(a, b) for a, b, _ in duplicate_pairs(db, near)] == [(0, 2)]


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_projects_give_a_map_without_suspects(tmp_path: Path, n: int, rng: np.random.Generator) -> None:
    project = Project.create(tmp_path / "p")
    project.add_clips(project.get_class(BACKGROUND_NOISE), [rng.normal(0, 0.01, 16000).astype(np.float32)
                                                            for _ in range(n)], prefix="n")
    data_map = build_map(project)
    assert len(data_map.points) == n and data_map.suspects == []


class EmbeddingModel:
    """A model that exposes an embedding: the clip's RMS and its zero-crossing rate."""

    labels = [BACKGROUND_NOISE, "low", "high"]

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, clips: np.ndarray) -> np.ndarray:
        self.embedded += len(clips)
        crossings = (np.diff(np.sign(clips), axis=1) != 0).mean(axis=1)
        return np.stack([np.sqrt((clips ** 2).mean(axis=1)), crossings], axis=1)

    def scores_batch(self, clips: np.ndarray) -> np.ndarray:
        return np.tile([0.4, 0.3, 0.3], (len(clips), 1))


def test_a_model_embedding_is_used_when_the_model_has_one(tmp_path: Path) -> None:
    project = tone_project(tmp_path / "tones")
    wrong = mislabel(project, "high", "low")
    model = EmbeddingModel()
    data_map = build_map(project, classifier=model)
    assert data_map.source == "PCA of the model's embedding" and model.embedded == 72
    assert data_map.suspects[0].path == wrong
