"""Keep the near misses, retrain: do the false alarms go away?

    python -m bench keep_loop [--fold 0|1] [--minutes 20] [--keep-minutes 10] [--epochs N] [--workdir DIR]

On the demo project (trained here, or reused from DIR/demo as `bench calibrate --workdir DIR` left it):

1. before: the default setting (threshold 0.5, smoothing 3) on a test stream: the model's test clips
   placed over two recordings it never heard (background_noise/doing_the_dishes and running_tap), but
   only their odd 10-second stretches;
2. keep: listen to `--keep-minutes` of the even stretches alone and keep every reported window as a
   Background Noise sample (what `earshot listen --keep-to 'Background Noise'` does in a quiet room);
3. after: retrain with the same settings and score the same test stream again.

`--fold 1` swaps the stretches (keep from the odd ones, test on the even ones).
Goal: fewer false activations per hour after, without missing more than 5 points more.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.calibrate import HELD_OUT_NOISE
from bench.common import DATASETS, peak_rss_mb, record

SR = 16000


def score(project: Any, stream: Any) -> dict[str, Any]:
    from core.calibrate import score_windows, sweep
    from core.classifier import load_classifier
    from core.infer import StreamSettings

    classifier = load_classifier(project.root)
    default = StreamSettings()
    track = score_windows(classifier, stream)
    [outcome] = sweep(track, stream, classifier.audio, thresholds=(), smoothing=(),
                      extra=[(default.threshold, default.smooth_windows)])
    return outcome.to_dict()


def stretches(y: np.ndarray, parity: int, seconds: int = 10) -> np.ndarray:
    """The even (parity 0) or odd (1) `seconds`-long stretches of `y`, end to end."""
    size = seconds * SR
    return np.concatenate([y[i:i + size] for i in range(parity * size, y.size, 2 * size)])


def keep_false_alarms(project: Any, noise: np.ndarray) -> int:
    """Listen to noise alone with the default setting; keep every reported window as Background Noise."""
    from core.classifier import load_classifier
    from core.infer import StreamingClassifier
    from core.keep import keep_window
    from core.spec import BACKGROUND_NOISE

    classifier = load_classifier(project.root)
    streaming = StreamingClassifier(classifier)
    size = classifier.audio.clip_samples
    kept = 0
    for start in range(0, noise.size, SR):
        for decision in streaming.feed(noise[start:start + SR]):
            end = int(round(decision.time * SR))
            keep_window(project, BACKGROUND_NOISE, noise[end - size:end])
            kept += 1
    return kept


def main(argv: list[str]) -> int:
    from core.audio import load
    from core.calibrate import project_material
    from core.classifier import load_classifier
    from core.demo import create_demo
    from core.project import Project
    from core.spec import TrainSpec
    from core.teststream import build_stream, noise_bed
    from core.train import train

    parser = argparse.ArgumentParser(prog="python -m bench keep_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="test stream length (default: 20)")
    parser.add_argument("--keep-minutes", type=float, default=10.0, help="noise listened to (default: 10)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the project default)")
    parser.add_argument("--workdir", type=Path, help="reuse DIR/demo if trained; keep the projects there")
    parser.add_argument("--fold", type=int, choices=(0, 1), default=0,
                        help="0: keep from the even 10 s stretches of the noise, test on the odd ones; "
                             "1: the reverse")
    args = parser.parse_args(argv)
    spec = TrainSpec() if args.epochs is None else TrainSpec(epochs=args.epochs)
    with tempfile.TemporaryDirectory(prefix="earshot-bench-keep-") as tmp:
        work = args.workdir or Path(tmp)
        demo = work / "demo"
        if not (demo / "models" / "latest").is_dir():
            train(create_demo(demo).project, spec)
        root = work / "keep-demo"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(demo, root, ignore=shutil.ignore_patterns(".earshot.lock"))
        project = Project.open(root)
        recordings = [load(DATASETS / "background_noise" / f"{name}.wav", SR) for name in HELD_OUT_NOISE]
        first = [stretches(y, args.fold) for y in recordings]
        second = [stretches(y, 1 - args.fold) for y in recordings]
        clips, _ = project_material(project, load_classifier(project.root))
        stream = build_stream(clips, second, sample_rate=SR, seconds=args.minutes * 60, seed=2)
        before = score(project, stream)
        quiet = noise_bed(first, int(args.keep_minutes * 60 * SR), np.random.default_rng(7), sample_rate=SR)
        kept = keep_false_alarms(project, quiet)
        train(project, spec)
        after = score(project, stream)
    fewer = after["false_per_hour"] < before["false_per_hour"]
    ok = fewer and after["miss_rate"] <= before["miss_rate"] + 0.05
    print(f"demo, fold {args.fold}: {kept} false alarms kept from {args.keep_minutes:g} min of unseen noise; "
          "on a "
          f"{args.minutes:g}-minute test stream: {before['false_per_hour']:.1f} -> "
          f"{after['false_per_hour']:.1f} false/h, miss {before['miss_rate']:.3f} -> "
          f"{after['miss_rate']:.3f} ({'goal met' if ok else 'GOAL MISSED'})")
    record(f"keep_loop_fold{args.fold}", {"kept": kept, "before": before, "after": after, "goal_met": ok,
                         "minutes": args.minutes, "keep_minutes": args.keep_minutes,
                         "peak_rss_mb": round(peak_rss_mb(), 1)})
    return 0 if ok else 1
