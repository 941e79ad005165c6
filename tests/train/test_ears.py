"""Pretrained ears: golden outputs, the runtime's resampler, real recordings split by speaker and track,
`auto`'s choice, and missing or damaged weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.audio import load
from core.ears import EarError, open_ear, weight_files
from core.ears.choose import recording_groups
from core.features import fit_clip
from core.project import Project
from core.runtime.audio import resample
from core.runtime.speech import FILES as SPEECH_FILES
from core.spec import BACKGROUND_NOISE, TrainSpec
from tests.fixtures.datasets import DatasetFile
from tests.train.conftest import SR, WORDS, label_of, tone_project

ROOT = Path(__file__).resolve().parents[2]


def chirp() -> np.ndarray:
    """1 s, 200 Hz rising to 4 kHz, Hann-shaped, peak 0.3."""
    t = np.arange(SR) / SR
    return (0.3 * np.sin(2 * np.pi * (200 * t + 1900 * t ** 2)) * np.hanning(SR)).astype(np.float32)


def test_speech_ear_golden_output() -> None:
    e = open_ear("speech", SR).embed(chirp()[None])[0]
    assert e.shape == (96,) and e.dtype == np.float32
    assert e[[0, 25, 50, 75, 95]] == pytest.approx([-7.1968, 15.8097, -6.2783, 7.2194, 19.5755], abs=2e-3)
    assert float(e.mean()) == pytest.approx(0.8924, abs=1e-3)
    assert float(np.linalg.norm(e)) == pytest.approx(156.268, rel=1e-4)


def test_music_ear_golden_output() -> None:
    e = open_ear("music", SR).embed(chirp()[None])[0]
    assert e.shape == (1506,) and e.dtype == np.float32
    assert e[[700, 1500]] == pytest.approx([16.1213, 1.2449], abs=2e-3)
    assert float(e.mean()) == pytest.approx(0.83024, abs=1e-3)
    assert float(np.linalg.norm(e)) == pytest.approx(132.8809, rel=1e-4)
    assert np.all(e[:753] >= e[753:] - 1e-4)  # max over time >= mean over time


def test_ears_take_any_project_rate_and_batch_independently() -> None:
    speech = open_ear("speech", SR)
    clips = np.stack([chirp(), 0.5 * chirp()[::-1].copy(), np.zeros(SR, np.float32)])
    together = speech.embed(clips)
    alone = np.stack([speech.embed(c[None])[0] for c in clips])
    assert np.allclose(together, alone, atol=1e-3)
    at_8k = open_ear("speech", 8000).embed(resample(chirp(), SR, 8000)[None])[0]
    assert np.corrcoef(at_8k, together[0])[0, 1] > 0.99


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_runtime_resampler_keeps_a_tone_and_removes_what_cannot_be_kept(rate: int) -> None:
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    out = resample(tone, rate, SR)
    assert out.size == SR
    expected = np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
    assert np.abs(out[200:-200] - expected[200:-200]).max() < 1e-3
    if rate > SR:  # a 10 kHz tone is above the new Nyquist: gone, not aliased to 6 kHz
        high = np.sin(2 * np.pi * 10000 * t).astype(np.float32)
        assert np.abs(resample(high, rate, SR)[200:-200]).max() < 1e-3


def test_recording_groups_come_from_file_names() -> None:
    names = [Path("yes/20261130-101010-take-0123456789ab.wav"),
             Path("yes/20261130-101010-take-ba9876543210.wav"),
             Path("yes/other-0123456789ab.wav"), Path("yes/plain.wav")]
    assert recording_groups(names) == ["20261130-101010-take", "20261130-101010-take", "other", "plain"]


# -- real recordings -----------------------------------------------------------------------------

def speech_project(root: Path, split: dict[str, list[DatasetFile]], model: str,
                   per_class: int = 60) -> Project:
    project = Project.create(root)
    for label in (BACKGROUND_NOISE, *WORDS):
        info = project.get_class(label) if label == BACKGROUND_NOISE else project.add_class(label)
        files = [f for f in split["train"] if label_of(f) == label][:per_class]
        project.add_clips(info, [fit_clip(load(f.path, SR), SR) for f in files], prefix=label)
    project.set_train_spec(TrainSpec(epochs=30, seed=1, model=model))
    return project


def unseen_accuracy(project: Project, split: dict[str, list[DatasetFile]]) -> float:
    from core.classifier import load_classifier

    classifier = load_classifier(project.root)
    test = split["test"]
    clips = np.stack([fit_clip(load(f.path, SR), SR) for f in test])
    truth = np.array([classifier.labels.index(label_of(f)) for f in test])
    return float((classifier.scores_batch(clips).argmax(axis=1) == truth).mean())


@pytest.mark.slow
def test_speech_beats_small_on_unseen_speakers_and_auto_picks_speech(
        tmp_path: Path, speech_split: dict[str, list[DatasetFile]], trained_speech_project: Project) -> None:
    from core.train import train

    project = speech_project(tmp_path / "words", speech_split, "auto")
    result = train(project)
    assert result.kind == "speech" and result.choice is not None
    assert result.choice["scores"]["speech"] > result.choice["scores"]["music"]
    assert len(result.history) == 30 and all(0 <= m.train_accuracy <= 1 for m in result.history)
    assert result.history[-1].train_loss < result.history[0].train_loss
    speech = unseen_accuracy(project, speech_split)
    small = unseen_accuracy(trained_speech_project, speech_split)
    assert speech >= 0.9 and speech > small + 0.02, (speech, small)
    meta = json.loads((project.models_dir / "latest" / "metadata.json").read_text())
    assert meta["model"]["kind"] == "speech" and meta["model"]["choice"]["kind"] == "speech"
    assert sorted(p.name for p in (project.models_dir / "latest").iterdir()) == [
        "head.npz", "labels.txt", "metadata.json"]


@pytest.mark.slow
def test_auto_picks_music_for_genres(tmp_path: Path, dataset_files: list[DatasetFile]) -> None:
    from core.train import train

    tracks: dict[str, list[DatasetFile]] = defaultdict(list)
    for f in dataset_files:
        if f.dataset == "gtzan5" and f.label in ("classical", "rock", "jazz"):
            tracks[f.label].append(f)
    noise = [f for f in dataset_files if f.dataset == "background_noise"][:3]
    project = Project.create(tmp_path / "genres")
    for label, files in [(BACKGROUND_NOISE, noise), *sorted(tracks.items())]:
        info = project.get_class(label) if label == BACKGROUND_NOISE else project.add_class(label)
        for f in sorted(files, key=lambda f: f.path)[:4]:  # 4 tracks, 8 one-second windows each
            y = load(f.path, SR)
            project.add_clips(info, [y[s * SR:(s + 1) * SR] for s in range(2, 26, 3)], prefix=f.path.stem)
    result = train(project, TrainSpec(epochs=5, seed=0))
    assert result.choice is not None and result.choice["folds"] >= 2
    assert result.kind in ("music", "speech+music"), result.choice
    assert result.choice["scores"]["music"] > result.choice["scores"]["speech"], result.choice


# -- missing and damaged weights -------------------------------------------------------------------

def run_earshot(*args: str, ears_dir: Path | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if ears_dir is not None:
        env["EARSHOT_EARS_DIR"] = str(ears_dir)
    return subprocess.run([sys.executable, "-m", "earshot", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def error_lines(run: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("earshot: error")]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".cache" not in p.parts}


@pytest.mark.slow
def test_missing_weights_one_line_nothing_lost_and_small_still_trains(tmp_path: Path) -> None:
    project = tone_project(tmp_path / "tones")
    trained = run_earshot("train", str(project.root), "--model", "speech", "--epochs", "3", ears_dir=None)
    assert trained.returncode == 0, trained.stderr
    before = snapshot(project.root)
    empty = tmp_path / "no-weights"
    empty.mkdir()

    refused = run_earshot("train", str(project.root), "--model", "speech", ears_dir=empty)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(error_lines(refused)) == 1
    assert "speech model's weights are not installed" in refused.stderr
    assert "pip install --no-deps openwakeword==0.5.1" in refused.stderr
    sample = str(ROOT / "sample_data" / "yes-1.flac")
    predicted = run_earshot("predict", str(project.root), sample, ears_dir=empty)
    assert predicted.returncode == 1 and len(error_lines(predicted)) == 1
    assert "Traceback" not in predicted.stderr
    assert "openwakeword" in predicted.stderr
    assert snapshot(project.root) == before  # nothing lost: the speech model is still there

    auto = run_earshot("train", str(project.root), "--epochs", "2", "--json", ears_dir=empty)
    assert auto.returncode == 0, auto.stderr
    summary = json.loads(auto.stdout.splitlines()[-1])
    assert summary["model"] == "small" and summary["choice"]["reason"] == "no pretrained ear is installed"
    assert (project.models_dir / "latest" / "model.tflite").is_file()
    head = next(data for name, data in before.items() if name.endswith("/head.npz"))  # models/model-NNNN/
    assert (project.models_dir / "previous" / "head.npz").read_bytes() == head


@pytest.mark.slow
def test_damaged_weights_are_one_clear_line(tmp_path: Path) -> None:
    damaged = tmp_path / "ears"
    damaged.mkdir()
    for name, data in weight_files("speech").items():
        (damaged / name).write_bytes(data[: len(data) // 3] if name == SPEECH_FILES[1] else data)
    project = tone_project(tmp_path / "tones")
    run = run_earshot("train", str(project.root), "--model", "speech", ears_dir=damaged)
    assert run.returncode == 1 and "Traceback" not in run.stderr and len(error_lines(run)) == 1
    assert "speech model's weights are damaged" in run.stderr and "openwakeword" in run.stderr
    assert not (project.models_dir / "latest").exists()


def test_unknown_kind_and_missing_music_weights_fail_cleanly(tmp_path: Path, monkeypatch) -> None:
    from core.errors import TrainingError
    from core.train import train

    project = tone_project(tmp_path / "tones")
    with pytest.raises(TrainingError, match="unknown model kind"):
        train(project, TrainSpec(epochs=1, model="vggish"))
    monkeypatch.setenv("EARSHOT_EARS_DIR", str(tmp_path))
    with pytest.raises(EarError, match="music model's weights are not installed") as info:
        open_ear("music", SR)
    assert "build_music" in (info.value.hint or "")
    shutil.rmtree(project.root / ".cache", ignore_errors=True)
