"""Keeping windows: the recent-audio ring, the stored sample and recording, the out-of-date check."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import pytest

from core.audio import load
from core.capture import WavFileSource
from core.keep import RecentAudio, TappedSource, keep_window, model_out_of_date
from core.project import Project
from core.spec import BACKGROUND_NOISE

SR = 16000


@pytest.mark.parametrize("block", [1, 7, 320, 16000, 40000])
def test_the_ring_returns_any_recent_window_whatever_the_block_size(block: int) -> None:
    stream = np.arange(100_000, dtype=np.float32)
    recent = RecentAudio(SR, seconds=2.0)
    for start in range(0, stream.size, block):
        recent.add(stream[start:start + block])
    assert recent.end == stream.size
    np.testing.assert_array_equal(recent.window(100_000, 16000), stream[-16000:])
    np.testing.assert_array_equal(recent.window(90_000, 100), stream[89_900:90_000])
    assert recent.window(100_000 - 30_000, 16000) is None  # older than the 2 s held
    assert recent.window(100_001, 10) is None  # not heard yet
    np.testing.assert_array_equal(recent.at_time(90_000 / SR, 100), stream[89_900:90_000])
    np.testing.assert_array_equal(recent.at_time(99.0, 5), stream[-5:])  # beyond the end: the latest


def test_the_ring_pads_the_start_of_a_short_stream() -> None:
    recent = RecentAudio(SR)
    recent.add(np.ones(10, np.float32))
    assert recent.last(12).tolist() == [0, 0] + [1] * 10


def test_a_tapped_source_copies_what_it_reads(rng: np.random.Generator) -> None:
    audio = rng.normal(0, 0.1, 3 * SR).astype(np.float32)
    recent = RecentAudio(SR)
    with WavFileSource.from_array(audio, SR, speed=0) as source:
        tapped = TappedSource(source, recent)
        assert tapped.sample_rate == SR
        while tapped.read() is not None:
            pass
    np.testing.assert_array_equal(recent.last(SR), audio[-SR:])


def test_keeping_a_window_stores_a_sample_and_the_raw_recording(tmp_path, rng: np.random.Generator) -> None:
    project = Project.create(tmp_path / "p")
    window = rng.normal(0, 0.1, SR).astype(np.float32)
    kept = keep_window(project, "background noise", window)
    assert kept.class_name == BACKGROUND_NOISE
    assert kept.path in project.samples(project.get_class(BACKGROUND_NOISE))
    np.testing.assert_allclose(load(kept.path, SR), window, atol=1 / 32768)
    np.testing.assert_allclose(load(kept.recording, SR), window, atol=1 / 32768)
    assert kept.path.name.startswith("kept") and not list(project.root.rglob("*.tmp"))
    short = keep_window(project, BACKGROUND_NOISE, window[:4000])  # padded to a clip
    assert load(short.path, SR).size == SR


def test_the_model_is_out_of_date_after_new_or_deleted_samples(
        tones: Callable[[], Project], rng: np.random.Generator) -> None:
    project = tones()
    assert model_out_of_date(project) is None
    later = time.time() + 10  # surely after the model's "created" second
    kept = keep_window(project, "low", rng.normal(0, 0.1, SR).astype(np.float32))
    os.utime(kept.path, (later, later))
    assert model_out_of_date(project) == "1 new sample since the model was trained"
    project.delete_sample(kept.path)
    os.utime(project.samples_dir(project.get_class("low")), (later, later))
    assert model_out_of_date(project) == "samples deleted since the model was trained"
    project.add_class("new")
    assert model_out_of_date(project) == "the classes changed since the model was trained"


def test_a_copied_project_is_not_called_out_of_date(tones: Callable[[], Project]) -> None:
    project = tones()
    later = time.time() + 10
    for info in project.classes:  # what `cp -r` does: every file gets the time of the copy
        for path in [project.samples_dir(info), *project.samples(info)]:
            os.utime(path, (later, later))
    assert model_out_of_date(project) is None


def test_a_listed_sample_set_is_compared_exactly(tones: Callable[[], Project],
                                                 rng: np.random.Generator) -> None:
    import json

    project = tones()
    metadata_path = project.models_dir / "latest" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    samples = [p for info in project.classes for p in project.samples(info)]
    metadata["samples"] = [str(p.relative_to(project.root)) for p in samples]
    metadata_path.write_text(json.dumps(metadata))
    assert model_out_of_date(project) is None
    project.delete_sample(samples[0])
    keep_window(project, "high", rng.normal(0, 0.1, SR).astype(np.float32))
    assert model_out_of_date(project) == "1 new sample and 1 sample deleted since the model was trained"


def test_a_project_without_a_model_is_not_out_of_date(tmp_path) -> None:
    assert model_out_of_date(Project.create(tmp_path / "p")) is None
