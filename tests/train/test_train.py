"""Training end to end: the saved model, determinism, errors before any work, cancel, real speech."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.audio import load
from core.classifier import load_classifier
from core.errors import ModelError, TrainingError
from core.features import fit_clip
from core.project import Project
from core.spec import BACKGROUND_NOISE, TrainSpec
from core.train import EpochMetrics, TrainingCancelled, train
from tests.fixtures.datasets import DatasetFile
from tests.train.conftest import SR, label_of, tone_clips

pytestmark = pytest.mark.slow


def test_training_saves_a_complete_model(trained_tone_project: Project) -> None:
    folder = trained_tone_project.root / "models" / "latest"
    assert sorted(p.name for p in folder.iterdir()) == ["labels.txt", "metadata.json", "model.keras",
                                                        "model.tflite"]
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["labels"] == [BACKGROUND_NOISE, "low", "high"]
    assert (folder / "labels.txt").read_text().splitlines() == meta["labels"]
    assert meta["audio"]["sample_rate"] == 16000 and meta["features"]["n_mels"] == 40
    assert meta["train"]["epochs"] == 8 and [h["epoch"] for h in meta["history"]] == list(range(1, 9))
    assert {"created", "version", "confusion", "test_split", "metrics", "input_shape"} <= meta.keys()
    assert len(meta["test_split"]) == sum(map(sum, meta["confusion"])) == 12  # 15% of 24 per class
    assert all((trained_tone_project.root / item["file"]).is_file() for item in meta["test_split"])
    # tones are easy: the saved TFLite model must hear them in fresh clips
    classifier = load_classifier(trained_tone_project.root)
    rng = np.random.default_rng(99)
    scores = classifier.scores_batch(np.concatenate([tone_clips(rng, f, 10) for f in (None, 300.0, 2000.0)]))
    assert scores.shape == (30, 3) and np.allclose(scores.sum(axis=1), 1, atol=1e-3)
    assert (scores.argmax(axis=1) == np.repeat([0, 1, 2], 10)).mean() >= 0.8


def test_epochs_are_reported_and_the_same_seed_gives_the_same_model(
        make_tone_project: Callable[..., Project]) -> None:
    project = make_tone_project()
    epochs: list[EpochMetrics] = []
    statuses: list[str] = []
    spec = TrainSpec(epochs=3, seed=5, model="small")
    one = train(project, spec, on_epoch=epochs.append, on_status=statuses.append)
    assert [m.epoch for m in epochs] == [1, 2, 3] and all(m.epochs == 3 and m.seconds > 0 for m in epochs)
    assert all(0 <= m.train_accuracy <= 1 and 0 <= m.test_accuracy <= 1 and m.train_loss > 0 for m in epochs)
    assert any(s.startswith("computing features") for s in statuses)
    assert one.to_dict().keys() == {"test_accuracy", "train_accuracy", "epochs", "seconds", "classes"}
    first_model = (project.root / "models" / "latest" / "model.tflite").read_bytes()
    two = train(project, spec)
    assert [m.train_loss for m in one.history] == [m.train_loss for m in two.history]
    assert [m.test_loss for m in one.history] == [m.test_loss for m in two.history]
    assert (project.root / "models" / "latest" / "model.tflite").read_bytes() == first_model
    assert (project.root / "models" / "previous" / "model.tflite").read_bytes() == first_model


def test_bad_data_and_settings_fail_before_training(make_tone_project: Callable[..., Project]) -> None:
    project = make_tone_project(count=24)
    project.add_class("empty")
    with pytest.raises(TrainingError, match="empty: 0 of 20") as info:
        train(project, TrainSpec(epochs=2))
    assert info.value.hint
    with pytest.raises(TrainingError, match="epochs must be at least 1"):
        train(project, TrainSpec(epochs=0))
    with pytest.raises(TrainingError, match="learning rate"):
        train(project, TrainSpec(learning_rate=0))
    assert not (project.root / "models" / "latest").exists()


def test_cancel_keeps_the_previous_model(trained_tone_project: Project) -> None:
    folder = trained_tone_project.root / "models"
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    cancel = threading.Event()
    seen: list[int] = []

    def stop_after_first(m: EpochMetrics) -> None:
        seen.append(m.epoch)
        cancel.set()

    with pytest.raises(TrainingCancelled, match="previous model is unchanged"):
        train(trained_tone_project, TrainSpec(epochs=30, seed=2), on_epoch=stop_after_first, cancel=cancel)
    assert seen == [1]
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert load_classifier(trained_tone_project.root).metadata["train"]["epochs"] == 8


def test_classifier_loads_folders_and_zips_and_refuses_junk(trained_tone_project: Project,
                                                            tmp_path: Path) -> None:
    folder = trained_tone_project.root / "models" / "latest"
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name in ("model.tflite", "labels.txt", "metadata.json"):
            out.write(folder / name, f"tones/{name}")
    clip = tone_clips(np.random.default_rng(1), 2000.0, 1)[0]
    expected = load_classifier(trained_tone_project.root).scores(clip)
    for source in (folder, archive):
        assert np.array_equal(load_classifier(source).scores(clip), expected)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="damaged model zip"):
        load_classifier(tmp_path / "junk.zip")
    with pytest.raises(ModelError, match="no trained model"):
        load_classifier(Project.create(tmp_path / "fresh").root)
    with pytest.raises(ModelError, match="no such project"):
        load_classifier(tmp_path / "missing")


def test_real_speech_is_recognised_on_unseen_speakers(trained_speech_project: Project,
                                                      speech_split: dict[str, list[DatasetFile]]) -> None:
    classifier = load_classifier(trained_speech_project.root)
    test = speech_split["test"]
    assert not {f.group for f in test} & {f.group for f in speech_split["train"]}
    clips = np.stack([fit_clip(load(f.path, SR), SR) for f in test])
    truth = np.array([classifier.labels.index(label_of(f)) for f in test])
    accuracy = float((classifier.scores_batch(clips).argmax(axis=1) == truth).mean())
    assert len(test) >= 80
    assert accuracy >= 0.75, f"accuracy {accuracy:.3f} on {len(test)} clips of unseen speakers (chance 0.25)"


def test_the_model_converts_to_int8_and_agrees_with_float(trained_tone_project: Project,
                                                          tmp_path: Path) -> None:
    import keras

    from core.dataset import load_clipset
    from core.features import power_to_db
    from core.model import tflite_bytes

    latest = trained_tone_project.root / "models" / "latest"
    model = keras.saving.load_model(latest / "model.keras")
    float_model = load_classifier(latest)
    clips = load_clipset(trained_tone_project, float_model.features, min_samples=20)
    quantized = tflite_bytes(model, representative=power_to_db(clips.power[::2], float_model.features))
    folder = tmp_path / "int8"
    folder.mkdir()
    (folder / "model_int8.tflite").write_bytes(quantized)
    for name in ("labels.txt", "metadata.json"):
        (folder / name).write_bytes((latest / name).read_bytes())
    int8_model = load_classifier(folder)
    assert int8_model.bundle.model.input["dtype"] == np.int8 and int8_model.bundle.model.quantized
    fresh = np.concatenate([tone_clips(np.random.default_rng(5), f, 8) for f in (None, 300.0, 2000.0)])
    agree = (int8_model.scores_batch(fresh).argmax(1) == float_model.scores_batch(fresh).argmax(1)).mean()
    assert agree >= 0.9
