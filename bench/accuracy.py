"""Accuracy of the training engine on real recordings, split by speaker or track, beside a baseline.

    python -m bench accuracy [--dataset speech_commands|fsdd|gtzan5|seed|all] [--epochs N] [--folds N]

Each case builds an earshot project from ../shared/datasets (training speakers/tracks only), trains it
with the default settings through `core.train.train`, then scores the unseen speakers/tracks with the
saved TFLite model (`core.classifier`). The baseline, measured in the same run on the same split, is
log-mel + MFCC statistics with scikit-learn's logistic regression.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DATASETS, peak_rss_mb, record

SAMPLE_RATE = 16000
WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
GENRES = ["blues", "classical", "country", "jazz", "rock"]
NOISE = "Background Noise"


@dataclass
class Clip:
    audio: np.ndarray  # float32 [16000]
    label: str
    group: str


def manifest() -> list[dict[str, str]]:
    with open(DATASETS / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def load_clip(path: Path) -> np.ndarray:
    from core.audio import load
    from core.features import fit_clip

    return fit_clip(load(path, SAMPLE_RATE), SAMPLE_RATE)


def windows(path: Path, *, hop: float = 1.0) -> list[np.ndarray]:
    from core.audio import load

    y = load(path, SAMPLE_RATE)
    step = int(hop * SAMPLE_RATE)
    return [y[s:s + SAMPLE_RATE] for s in range(0, len(y) - SAMPLE_RATE + 1, step)]


def held_out(group: str, fraction: float, salt: str = "") -> bool:
    """A stable pseudo-random choice of test groups (speakers, tracks) by hash."""
    digest = hashlib.sha1((salt + group).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def noise_clips(test_files: set[str]) -> tuple[list[Clip], list[Clip]]:
    """1 s windows of background_noise/ files; the named files are held out for testing."""
    train, test = [], []
    for row in manifest():
        if row["path"].startswith("background_noise/"):
            name = Path(row["path"]).stem
            clips = [Clip(w, NOISE, name) for w in windows(DATASETS / row["path"])]
            (test if name in test_files else train).extend(clips)
    return train, test


def build_project(root: Path, clips: list[Clip]) -> Any:
    from core.project import Project

    project = Project.create(root, name="bench")
    by_label: dict[str, list[np.ndarray]] = defaultdict(list)
    for clip in clips:
        by_label[clip.label].append(clip.audio)
    for label, audio in by_label.items():
        info = project.get_class(label) if label == NOISE else project.add_class(label)
        project.add_clips(info, audio, prefix=label)
    return project


def stats_features(audio: np.ndarray) -> np.ndarray:
    """Baseline features: mean and std over time of log-mel and of MFCC (DCT of log-mel)."""
    from scipy.fft import dct

    from core.features import log_mel_batch
    from core.spec import FeatureSpec

    mel = log_mel_batch(audio, FeatureSpec())
    mfcc = dct(mel, type=2, norm="ortho", axis=-1)[..., :20]
    return np.concatenate([mel.mean(1), mel.std(1), mfcc.mean(1), mfcc.std(1)], axis=1)


def baseline(train: list[Clip], test: list[Clip], labels: list[str]) -> np.ndarray:
    """Logistic regression on feature statistics; returns scores `[n_test, n_labels]`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = stats_features(np.stack([c.audio for c in train]))
    y = np.array([labels.index(c.label) for c in train])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
    model.fit(x, y)
    scores = np.zeros((len(test), len(labels)))
    scores[:, model.classes_] = model.predict_proba(stats_features(np.stack([c.audio for c in test])))
    return scores


def run_case(train: list[Clip], test: list[Clip], epochs: int | None) -> dict[str, Any]:
    """Train through a real project and score `test` with the saved TFLite model and the baseline."""
    from core.classifier import load_classifier
    from core.spec import TrainSpec
    from core.train import train as train_project

    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        project = build_project(Path(tmp) / "project", train)
        spec = TrainSpec() if epochs is None else TrainSpec(epochs=epochs)
        result = train_project(project, spec)
        classifier = load_classifier(project.root)
        scores = classifier.scores_batch(np.stack([c.audio for c in test]))
    labels = classifier.labels
    base = baseline(train, test, labels)
    truth = np.array([labels.index(c.label) for c in test])
    return {"labels": labels, "truth": truth, "scores": scores, "baseline_scores": base,
            "result": result, "train_clips": len(train), "test_clips": len(test)}


def accuracy(scores: np.ndarray, truth: np.ndarray) -> float:
    return round(float((scores.argmax(1) == truth).mean()), 4)


def summary(case: dict[str, Any]) -> dict[str, Any]:
    result = case["result"]
    return {"accuracy": accuracy(case["scores"], case["truth"]),
            "baseline_accuracy": accuracy(case["baseline_scores"], case["truth"]),
            "train_seconds": round(result.seconds, 2), "epochs": result.epochs,
            "parameters": result.parameters, "internal_test_accuracy": round(result.test_accuracy, 4),
            "train_clips": case["train_clips"], "test_clips": case["test_clips"]}


def speech_commands(epochs: int | None, folds: int) -> dict[str, Any]:
    """10 words + _silence_ (as Background Noise), up to 100 training clips per class, speakers held out."""
    rows = [r for r in manifest() if r["path"].startswith("speech_commands/")]
    train, test = [], []
    for row in rows:
        label = NOISE if row["class"] == "_silence_" else row["class"]
        clip = Clip(load_clip(DATASETS / row["path"]), label, row["group"])
        (test if held_out(row["group"], 0.2) else train).append(clip)
    per_class: dict[str, list[Clip]] = defaultdict(list)
    for clip in train:
        per_class[clip.label].append(clip)
    train = [c for clips in per_class.values() for c in clips[:100]]
    return summary(run_case(train, test, epochs))


def fsdd(epochs: int | None, folds: int) -> dict[str, Any]:
    """Digits 0-9 plus Background Noise; one speaker held out at a time (up to `folds` speakers)."""
    rows = [r for r in manifest() if r["path"].startswith("fsdd/")]
    clips = [Clip(load_clip(DATASETS / r["path"]), r["class"], r["group"]) for r in rows]
    noise_train, _ = noise_clips(set())
    speakers = sorted({c.group for c in clips})[:folds]
    results = []
    for speaker in speakers:
        train = [c for c in clips if c.group != speaker] + noise_train[::2]
        test = [c for c in clips if c.group == speaker]
        results.append({"speaker": speaker, **summary(run_case(train, test, epochs))})
    return {"accuracy": round(float(np.mean([r["accuracy"] for r in results])), 4),
            "baseline_accuracy": round(float(np.mean([r["baseline_accuracy"] for r in results])), 4),
            "train_seconds": round(float(np.mean([r["train_seconds"] for r in results])), 2),
            "epochs": results[0]["epochs"], "parameters": results[0]["parameters"], "folds": results}


def vote_accuracy(scores: np.ndarray, truth: np.ndarray, groups: list[str], size: int = 5) -> float:
    """Accuracy of a majority vote over consecutive `size`-window (5 s) stretches of each track."""
    from core.classifier import vote

    hits = []
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        by_group[group].append(i)
    for members in by_group.values():
        for first in range(0, len(members) - size + 1, size):
            idx = members[first:first + size]
            names = [str(k) for k in range(scores.shape[1])]
            picked = vote([str(k) for k in scores[idx].argmax(1)], scores[idx], names)
            hits.append(int(picked) == truth[idx[0]])
    return round(float(np.mean(hits)), 4)


def gtzan5(epochs: int | None, folds: int) -> dict[str, Any]:
    """Five genres + Background Noise in 1 s windows; 2 tracks per genre held out, `folds` rotations."""
    rows = [r for r in manifest() if r["path"].startswith("gtzan5/")]
    tracks: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        tracks[row["class"]].append(row)
    audio = {r["path"]: windows(DATASETS / r["path"]) for r in rows}
    noise_train, noise_test = noise_clips({"running_tap"})
    results = []
    for fold in range(folds):
        train, test = [], []
        for members in tracks.values():
            chosen = {(2 * fold + k) % len(members) for k in range(2)}
            for k, row in enumerate(sorted(members, key=lambda r: r["path"])):
                clips = [Clip(w, row["class"], row["group"]) for w in audio[row["path"]]]
                (test if k in chosen else train).extend(clips)
        case = run_case(train + noise_train[::2], test + noise_test, epochs)
        genre = np.array([c.label != NOISE for c in test + noise_test])
        scores, truth = case["scores"], case["truth"]
        groups = [c.group for c, g in zip(test + noise_test, genre, strict=True) if g]
        base = case["baseline_scores"]
        results.append({
            **summary(case),
            "window_accuracy": accuracy(scores[genre], truth[genre]),
            "vote_accuracy": vote_accuracy(scores[genre], truth[genre], groups),
            "noise_accuracy": accuracy(scores[~genre], truth[~genre]),
            "baseline_window_accuracy": accuracy(base[genre], truth[genre]),
            "baseline_vote_accuracy": vote_accuracy(base[genre], truth[genre], groups),
        })
    keys = ["window_accuracy", "vote_accuracy", "noise_accuracy", "baseline_window_accuracy",
            "baseline_vote_accuracy", "train_seconds"]
    return {**{k: round(float(np.mean([r[k] for r in results])), 4) for k in keys},
            "epochs": results[0]["epochs"], "parameters": results[0]["parameters"], "folds": results}


def seed(epochs: int | None, folds: int) -> dict[str, Any]:
    """The seed case: 6 classes x 20 clips, 50 epochs; wall time of features + training (TF imported).

    `cpu_seconds` (CPU time of this process, all threads) shows the work done when the machine is shared.
    """
    from core.model import configure_tensorflow

    configure_tensorflow()
    import keras  # noqa: F401  (imported before the clock starts: TensorFlow import is excluded)

    rows = [r for r in manifest() if r["path"].startswith("speech_commands/")]
    chosen = {"_silence_": NOISE, "yes": "yes", "no": "no", "up": "up", "down": "down", "stop": "stop"}
    clips = []
    for source, label in chosen.items():
        members = [r for r in rows if r["class"] == source][:20]
        clips.extend(Clip(load_clip(DATASETS / r["path"]), label, r["group"]) for r in members)
    from core.spec import TrainSpec
    from core.train import train as train_project

    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        project = build_project(Path(tmp) / "project", clips)
        start, cpu = time.perf_counter(), time.process_time()
        result = train_project(project, TrainSpec(epochs=epochs or 50))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        again = train_project(project, TrainSpec(epochs=epochs or 50))
        wall_cached = time.perf_counter() - start
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "features_and_training_seconds": round(result.seconds, 2),  # without TFLite conversion and save
            "wall_seconds_cached_features": round(wall_cached, 2),
            "epochs": result.epochs, "parameters": result.parameters,
            "internal_test_accuracy": round(result.test_accuracy, 4),
            "same_result_twice": again.test_accuracy == result.test_accuracy}


CASES: dict[str, Callable[[int | None, int], dict[str, Any]]] = {
    "speech_commands": speech_commands, "fsdd": fsdd, "gtzan5": gtzan5, "seed": seed}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench accuracy", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*CASES, "all"], default="all")
    parser.add_argument("--epochs", type=int, default=None, help="override the default epochs")
    parser.add_argument("--folds", type=int, default=None,
                        help="fsdd: speakers held out in turn (5); gtzan5: track rotations (2)")
    args = parser.parse_args(argv)
    names = list(CASES) if args.dataset == "all" else [args.dataset]
    results: dict[str, Any] = {}
    for name in names:
        started = time.perf_counter()
        folds = args.folds or (2 if name == "gtzan5" else 5)
        results[name] = CASES[name](args.epochs, folds)
        results[name]["case_seconds"] = round(time.perf_counter() - started, 1)
        shown = ", ".join(f"{k}={v}" for k, v in results[name].items() if k != "folds")
        print(f"{name}: {shown}", flush=True)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    record("accuracy" if args.dataset == "all" else f"accuracy_{args.dataset}", results)
    return 0
