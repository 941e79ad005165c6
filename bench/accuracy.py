"""Accuracy of every model kind on real recordings, split by speaker or track, beside a baseline.

    python -m bench accuracy [--dataset speech_commands|fsdd|gtzan5|seed|all] [--epochs N] [--folds N]
                             [--kinds small,speech,music,speech+music,auto] [--per-class N]

Each case builds an earshot project from ../shared/datasets (training speakers/tracks only), trains it
once per model kind with the default settings through `core.train.train`, then scores the unseen
speakers/tracks with the saved model (`core.classifier`). `--per-class 20` keeps 20 training clips per
class (the classroom case). The baseline, measured in the same run on the same split, is log-mel + MFCC
statistics with scikit-learn's logistic regression.
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
    if OPTIONS.get("cache"):  # one feature/embedding cache for every project of the run (content-keyed)
        project.cache_dir.symlink_to(OPTIONS["cache"], target_is_directory=True)
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


KINDS = ["small", "speech", "music", "speech+music", "auto"]
OPTIONS: dict[str, Any] = {"kinds": KINDS, "per_class": None}


def limit_per_class(clips: list[Clip], per_class: int | None, seed: int = 0) -> list[Clip]:
    """At most `per_class` clips of each label, picked at random (seeded) from distinct groups first."""
    if per_class is None:
        return clips
    rng = np.random.default_rng(seed)
    out = []
    for label in sorted({c.label for c in clips}):
        members = [clips[i] for i in rng.permutation([i for i, c in enumerate(clips) if c.label == label])]
        out.extend(members[:per_class])
    return out


def score_clips(classifier: Any, audio: np.ndarray, ear_cache: dict[str, np.ndarray]) -> np.ndarray:
    """Scores of the saved model on `audio [n, samples]`; ear embeddings of the test audio are computed
    once per run (`ear_cache`) and fed to each kind's saved head."""
    bundle = classifier.bundle
    if bundle.kind == "small":
        return classifier.scores_batch(audio)
    parts = []
    for ear in bundle.ears:
        if ear.name not in ear_cache:
            ear_cache[ear.name] = ear.embed(audio)
        parts.append(ear_cache[ear.name])
    return bundle.head.scores(np.concatenate(parts, axis=1))


def run_case(train: list[Clip], test: list[Clip], epochs: int | None) -> dict[str, Any]:
    """Train through a real project once per kind and score `test` with each saved model, and the baseline."""
    from core.classifier import load_classifier
    from core.spec import TrainSpec
    from core.train import train as train_project

    train = limit_per_class(train, OPTIONS["per_class"])
    test_audio = np.stack([c.audio for c in test])
    ear_cache: dict[str, np.ndarray] = {}
    per_kind: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        project = build_project(Path(tmp) / "project", train)
        for kind in OPTIONS["kinds"]:
            spec = TrainSpec(model=kind) if epochs is None else TrainSpec(epochs=epochs, model=kind)
            result = train_project(project, spec)
            classifier = load_classifier(project.root)
            per_kind[kind] = {"scores": score_clips(classifier, test_audio, ear_cache), "result": result}
    labels = classifier.labels
    base = baseline(train, test, labels)
    truth = np.array([labels.index(c.label) for c in test])
    return {"labels": labels, "truth": truth, "kinds": per_kind, "baseline_scores": base,
            "train_clips": len(train), "test_clips": len(test)}


def accuracy(scores: np.ndarray, truth: np.ndarray) -> float:
    return round(float((scores.argmax(1) == truth).mean()), 4)


def summary(case: dict[str, Any], mask: np.ndarray | None = None) -> dict[str, Any]:
    """Per kind: accuracy on the unseen speakers/tracks (`mask` selects clips), training time, and
    what `auto` chose; plus the baseline and the clip counts."""
    truth = case["truth"] if mask is None else case["truth"][mask]
    kinds = {}
    for kind, run in case["kinds"].items():
        result, scores = run["result"], run["scores"] if mask is None else run["scores"][mask]
        kinds[kind] = {"accuracy": accuracy(scores, truth), "train_seconds": round(result.seconds, 2),
                       "epochs": result.epochs, "parameters": result.parameters,
                       "internal_test_accuracy": round(result.test_accuracy, 4), "model": result.kind}
        if result.choice is not None:
            kinds[kind]["choice"] = result.choice
    base = case["baseline_scores"] if mask is None else case["baseline_scores"][mask]
    return {"kinds": kinds, "baseline_accuracy": accuracy(base, truth),
            "train_clips": case["train_clips"], "test_clips": case["test_clips"]}


def mean_over_folds(folds: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """Mean of `keys` per kind (and of the baseline keys) over folds."""
    out: dict[str, Any] = {"kinds": {}}
    for kind in folds[0]["kinds"]:
        out["kinds"][kind] = {k: round(float(np.mean([f["kinds"][kind][k] for f in folds])), 4)
                              for k in keys if k in folds[0]["kinds"][kind]}
        out["kinds"][kind]["models"] = sorted({f["kinds"][kind]["model"] for f in folds})
    for k in folds[0]:
        if k.startswith("baseline"):
            out[k] = round(float(np.mean([f[k] for f in folds])), 4)
    return out


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
    return {**mean_over_folds(results, ["accuracy", "train_seconds"]), "folds": results}


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
    for fold_index in range(folds):
        train, test = [], []
        for members in tracks.values():
            chosen = {(2 * fold_index + k) % len(members) for k in range(2)}
            for k, row in enumerate(sorted(members, key=lambda r: r["path"])):
                clips = [Clip(w, row["class"], row["group"]) for w in audio[row["path"]]]
                (test if k in chosen else train).extend(clips)
        case = run_case(train + noise_train[::2], test + noise_test, epochs)
        genre = np.array([c.label != NOISE for c in test + noise_test])
        truth = case["truth"]
        groups = [c.group for c, g in zip(test + noise_test, genre, strict=True) if g]
        base = case["baseline_scores"]
        fold = summary(case)
        for kind, run in case["kinds"].items():
            scores = run["scores"]
            fold["kinds"][kind].update(window_accuracy=accuracy(scores[genre], truth[genre]),
                                       vote_accuracy=vote_accuracy(scores[genre], truth[genre], groups),
                                       noise_accuracy=accuracy(scores[~genre], truth[~genre]))
        fold.update(baseline_window_accuracy=accuracy(base[genre], truth[genre]),
                    baseline_vote_accuracy=vote_accuracy(base[genre], truth[genre], groups))
        results.append({"fold": fold_index, **fold})
    keys = ["window_accuracy", "vote_accuracy", "noise_accuracy", "train_seconds"]
    return {**mean_over_folds(results, keys), "folds": results}


def seed(epochs: int | None, folds: int) -> dict[str, Any]:
    """The seed case: 6 classes x 20 clips, default settings, per kind: wall time from samples to saved
    model with TensorFlow already imported (empty cache, then cached features), and the whole
    `earshot train` command in a fresh process on a fresh copy of the project.

    `cpu_seconds` (CPU time of this process, all threads) shows the work done when the machine is shared.
    """
    import shutil
    import subprocess
    import sys

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

    out: dict[str, Any] = {}
    shared, OPTIONS["cache"] = OPTIONS.get("cache"), None  # timed from an empty cache
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        pristine = build_project(Path(tmp) / "pristine", clips).root
        for kind in OPTIONS["kinds"]:
            root = Path(tmp) / kind.replace("+", "-")
            shutil.copytree(pristine, root)
            from core.project import Project

            project = Project.open(root)
            spec = TrainSpec(model=kind) if epochs is None else TrainSpec(epochs=epochs, model=kind)
            start, cpu = time.perf_counter(), time.process_time()
            result = train_project(project, spec)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            start = time.perf_counter()
            again = train_project(project, spec)
            wall_cached = time.perf_counter() - start
            command_root = Path(tmp) / f"{root.name}-command"
            shutil.copytree(pristine, command_root)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "earshot", "train", str(command_root), "--model", kind,
                            "--json", *(["--epochs", str(epochs)] if epochs else [])],
                           check=True, capture_output=True, cwd=str(Path(__file__).resolve().parent.parent))
            command = time.perf_counter() - start
            out[kind] = {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                         "wall_seconds_cached": round(wall_cached, 2), "command_seconds": round(command, 2),
                         "model": result.kind, "epochs": result.epochs, "parameters": result.parameters,
                         "internal_test_accuracy": round(result.test_accuracy, 4),
                         "same_result_twice": again.test_accuracy == result.test_accuracy}
    OPTIONS["cache"] = shared
    return {"kinds": out}


CASES: dict[str, Callable[[int | None, int], dict[str, Any]]] = {
    "speech_commands": speech_commands, "fsdd": fsdd, "gtzan5": gtzan5, "seed": seed}


def _lines(name: str, result: dict[str, Any]) -> list[str]:
    lines = []
    for kind, values in result.get("kinds", {}).items():
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if k not in ("choice",))
        lines.append(f"{name} [{kind}]: {shown}")
    rest = ", ".join(f"{k}={v}" for k, v in result.items() if k not in ("kinds", "folds"))
    return lines + ([f"{name}: {rest}"] if rest else [])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench accuracy", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*CASES, "all"], default="all")
    parser.add_argument("--epochs", type=int, default=None, help="override the default epochs")
    parser.add_argument("--folds", type=int, default=None,
                        help="fsdd: speakers held out in turn (5); gtzan5: track rotations (5: every track)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="model kinds to compare (comma-separated)")
    parser.add_argument("--per-class", type=int, default=None, help="training clips per class (e.g. 20)")
    args = parser.parse_args(argv)
    OPTIONS["kinds"] = [k for k in args.kinds.split(",") if k]
    OPTIONS["per_class"] = args.per_class
    names = list(CASES) if args.dataset == "all" else [args.dataset]
    shared_cache = tempfile.TemporaryDirectory(prefix="earshot-bench-cache-")
    OPTIONS["cache"] = shared_cache.name
    results: dict[str, Any] = {"kinds": OPTIONS["kinds"], "per_class": args.per_class}
    for name in names:
        started = time.perf_counter()
        folds = args.folds or 5
        results[name] = CASES[name](args.epochs, folds)
        results[name]["case_seconds"] = round(time.perf_counter() - started, 1)
        for line in _lines(name, results[name]):
            print(line, flush=True)
    shared_cache.cleanup()
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    suffix = "" if args.dataset == "all" else f"_{args.dataset}"
    kinds = "" if OPTIONS["kinds"] == KINDS else "_" + "-".join(k.replace("+", "") for k in OPTIONS["kinds"])
    per_class = f"_{args.per_class}per_class" if args.per_class else ""
    record(f"accuracy{suffix}{per_class}{kinds}", results)
    return 0
