"""Calibration benchmark: does the recommended setting hold up on a stream it was not chosen on?

    python -m bench calibrate [--case demo|keywords|all] [--minutes 10] [--epochs N]

For each case it builds and trains a project, runs `calibrate_project` (a `--minutes` stream, seed 0;
its time is the speed goal) and then scores the default setting (threshold 0.5, smoothing 3) and the
recommended one on fresh streams:

- demo: the demo project (sample_data voices over synthetic room tone), calibrated with four of the
  six background_noise recordings as extra `--noise`. Fresh streams: seed 1 on the same material, and
  seed 2 over the project's room tone and the two held-out noise recordings.
- keywords: speech_commands yes/no/stop/go + `_silence_`, trained on about 80% of the speakers, with
  four of the six background_noise recordings as its Background Noise recordings. Fresh streams:
  seed 1 on the project's own material, and seed 2 made of the held-out speakers' clips over the two
  held-out noise recordings (doing_the_dishes, running_tap).

Goal: on each fresh stream the recommended setting has fewer false activations per hour than the
default, and a miss rate at most 5 points higher.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DATASETS, peak_rss_mb, record

WORDS = ("yes", "no", "stop", "go")
HELD_OUT_NOISE = ("doing_the_dishes", "running_tap")
NOISE = "Background Noise"


def fresh(classifier: Any, stream: Any, settings: list[tuple[float, int]],
          hop: float) -> list[dict[str, Any]]:
    from core.calibrate import score_windows, sweep

    track = score_windows(classifier, stream, hop_seconds=hop)
    return [o.to_dict() for o in sweep(track, stream, classifier.audio, thresholds=(), smoothing=(),
                                       extra=settings)]


def compare(name: str, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    default, chosen = outcomes[0], outcomes[-1]
    kept = (default["threshold"], default["smooth"]) == (chosen["threshold"], chosen["smooth"])
    ok = (chosen["false_per_hour"] < default["false_per_hour"] or default["false_per_hour"] == 0 ==
          chosen["false_per_hour"]) and chosen["miss_rate"] <= default["miss_rate"] + 0.05
    verdict = "goal met" if ok else ("default kept: no setting was clearly better" if kept else "GOAL MISSED")
    print(f"  {name:<22} default {default['false_per_hour']:6.1f}/h miss {default['miss_rate']:.3f}   "
          f"recommended {chosen['false_per_hour']:6.1f}/h miss {chosen['miss_rate']:.3f}   {verdict}")
    return {"default": default, "recommended": chosen, "goal_met": ok, "default_kept": kept}


def noise_files() -> tuple[list[Path], list[Path]]:
    """background_noise/ recordings: (used for calibration, held out for the fresh stream)."""
    files = sorted((DATASETS / "background_noise").glob("*.wav"))
    return [f for f in files if f.stem not in HELD_OUT_NOISE], [f for f in files if f.stem in HELD_OUT_NOISE]


def run_case(name: str, project: Any, minutes: float, extra_streams: list[tuple[str, Any]],
             noise: list[Path]) -> dict[str, Any]:
    from core.calibrate import calibrate_project, project_material
    from core.classifier import load_classifier
    from core.infer import StreamSettings
    from core.teststream import build_stream

    default = StreamSettings()
    project.set_settings("validate", {})  # start from the defaults, as a new project does
    started = time.perf_counter()
    result = calibrate_project(project, minutes=minutes, seed=0, noise_files=noise)
    seconds = time.perf_counter() - started
    rec = result.recommended
    print(f"{name}: calibrated a {minutes:g}-minute stream ({result.sounds} sounds, {result.windows} "
          f"windows, {len(result.curve)} settings) in {seconds:.1f} s ({seconds * 10 / minutes:.1f} s per "
          f"10 minutes): threshold {rec.threshold:g}, "
          f"smoothing {rec.smooth} ({rec.false_per_hour:.1f}/h, miss {rec.miss_rate:.3f}, "
          f"delay {rec.delay_ms or 0:.0f} ms)")
    classifier = load_classifier(project.root)
    settings = [(default.threshold, default.smooth_windows), (rec.threshold, rec.smooth)]
    clips, beds = project_material(project, classifier, noise)
    streams = [("same material, seed 1", build_stream(clips, beds, sample_rate=16000, seconds=minutes * 60,
                                                      seed=1)), *extra_streams]
    checks = {label: compare(label, fresh(classifier, stream, settings, default.hop_seconds))
              for label, stream in streams}
    return {"calibration_seconds": round(seconds, 2), "stream_minutes": minutes,
            "seconds_per_10_minutes": round(seconds * 10 / minutes, 2),
            "calibration": result.to_dict() | {"curve": None}, "fresh": checks}


def demo_case(root: Path, minutes: float, epochs: int | None) -> dict[str, Any]:
    from core.audio import load
    from core.calibrate import project_material
    from core.classifier import load_classifier
    from core.demo import create_demo
    from core.spec import TrainSpec
    from core.teststream import build_stream
    from core.train import train

    trained = (root / "models" / "latest").is_dir()
    project = create_demo(root).project
    if not trained:
        train(project, TrainSpec() if epochs is None else TrainSpec(epochs=epochs))
    used, held = noise_files()
    clips, beds = project_material(project, load_classifier(project.root))
    unseen = build_stream(clips, beds + [load(f, 16000) for f in held], sample_rate=16000,
                          seconds=minutes * 60, seed=2)
    return run_case("demo", project, minutes, [("unseen noise, seed 2", unseen)], used)


def keywords_case(root: Path, minutes: float, epochs: int | None) -> dict[str, Any]:
    from bench.accuracy import held_out, load_clip, manifest
    from core.audio import load
    from core.project import Project
    from core.segment import extract
    from core.spec import TrainSpec
    from core.teststream import build_stream
    from core.train import train

    rows = [r for r in manifest() if r["path"].startswith("speech_commands/")
            and r["class"] in (*WORDS, "_silence_")]
    trained = (root / "models" / "latest").is_dir()
    project = Project.open(root) if trained else Project.create(root, name="keywords")
    test_clips: list[tuple[str, np.ndarray]] = []
    train_clips: dict[str, list[np.ndarray]] = {}
    for row in rows:
        label = NOISE if row["class"] == "_silence_" else row["class"]
        clip = load_clip(DATASETS / row["path"])
        if held_out(row["group"], 0.2):
            if label != NOISE:
                test_clips.append((label, clip))
        else:
            train_clips.setdefault(label, []).append(clip)
    noise_info = project.get_class(NOISE)
    used, held = noise_files()
    held_noise = [load(f, 16000) for f in held]
    unseen = build_stream(test_clips, held_noise, sample_rate=16000, seconds=minutes * 60, seed=2)
    if trained:
        return run_case("keywords", project, minutes, [("unseen speakers+noise", unseen)], [])
    for path in used:
        y = load(path, 16000)
        project.save_recording(noise_info, y, label=path.stem)
        clips = extract(y, project.audio, mode="fixed").clips
        project.add_clips(noise_info, clips[:: max(1, len(clips) // 15)], prefix=path.stem)
    for label, clips in train_clips.items():
        info = noise_info if label == NOISE else project.add_class(label)
        project.add_clips(info, clips[:100], prefix=label)
    train(project, TrainSpec() if epochs is None else TrainSpec(epochs=epochs))
    return run_case("keywords", project, minutes, [("unseen speakers+noise", unseen)], [])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("demo", "keywords", "all"), default="all")
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="length of the calibration stream and of each fresh stream (default: 20)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the project default)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the projects here and reuse the trained ones (default: a temp folder)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="earshot-bench-calibrate-") as tmp:
        work = args.workdir or Path(tmp)
        if args.case in ("demo", "all"):
            results["demo"] = demo_case(work / "demo", args.minutes, args.epochs)
        if args.case in ("keywords", "all"):
            results["keywords"] = keywords_case(work / "keywords", args.minutes, args.epochs)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    record("calibrate", results)
    return 0 if all(c["goal_met"] or c["default_kept"] for r in results.values() if isinstance(r, dict)
                    for c in r["fresh"].values()) else 1
