"""Export and flash: int8 vs float accuracy (test split and unseen speakers), model sizes, per-clip
latency, export time, and flash throughput to real MicroPython (the wasm board behind a pty).

    python -m bench deploy [--epochs N] [--project DIR]

Without --project it trains a Speech Commands project (yes/no/stop + Background Noise) from
../shared/datasets, keeping a quarter of the speakers out to score both models on unseen voices.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO, peak_rss_mb, record


def _score(model: bytes, metadata: dict[str, Any], files: dict[str, list[Any]]) -> tuple[float, float]:
    from core.audio import load
    from core.classifier import Classifier
    from core.features import fit_clip

    classifier = Classifier(model, metadata["labels"], metadata, "bench")
    right = total = 0
    seconds = 0.0
    for label, items in files.items():
        for item in items:
            clip = fit_clip(load(item.path, classifier.audio.sample_rate), classifier.audio.clip_samples)
            started = time.perf_counter()
            scores = classifier.scores(clip)
            seconds += time.perf_counter() - started
            right += int(classifier.labels[int(np.argmax(scores))] == label)
            total += 1
    return right / max(total, 1), 1000 * seconds / max(total, 1)


def _start_board(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    path = folder / "tty"
    process = subprocess.Popen(["socat", f"pty,raw,echo=0,link={path}", "EXEC:node bridge.mjs"],
                               cwd=REPO / "tests" / "fixtures" / "micropython", start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return process, str(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench deploy")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--project", type=Path, help="an already trained project (skips training)")
    args = parser.parse_args(argv)

    from core.deploy.flash import BoardConfig, deployable_files, flash_files
    from core.export import export_project
    from core.spec import TrainSpec
    from tests.deploy.conftest import build_project, speech_files

    work = Path(tempfile.mkdtemp(prefix="earshot-bench-deploy-"))
    try:
        results: dict[str, Any] = {}
        if args.project:
            root = args.project
        else:
            project = build_project(work / "words")
            project.set_train_spec(TrainSpec(epochs=args.epochs, test_fraction=0.3, seed=1))
            from core.train import train

            started = time.perf_counter()
            train(project)
            results["train_seconds"] = round(time.perf_counter() - started, 1)
            root = project.root
        started = time.perf_counter()
        exported = export_project(root, work / "model.zip")
        results["export_seconds"] = round(time.perf_counter() - started, 1)
        results["test_split"] = {**{k: round(v, 4) for k, v in exported.accuracy.items()},
                                 "clips": exported.test_clips}
        kept = ("model.keras", "model.tflite", "model_int8.tflite", "model_int8.cc")
        results["sizes_bytes"] = {k: v for k, v in exported.sizes.items() if k in kept}
        if not args.project:
            with zipfile.ZipFile(exported.path) as archive:
                metadata = json.loads(archive.read("metadata.json"))
                models = {"float32": archive.read("model.tflite"), "int8": archive.read("model_int8.tflite")}
            unseen = speech_files(training=False)
            results["unseen_speakers"] = {"clips": sum(len(v) for v in unseen.values())}
            for kind, model in models.items():
                accuracy, ms = _score(model, metadata, unseen)
                results["unseen_speakers"][kind] = round(accuracy, 4)
                results.setdefault("ms_per_clip", {})[kind] = round(ms, 3)

        process, port = _start_board(work)
        try:
            files = deployable_files(exported.path, BoardConfig(dir="/home"))
            first = flash_files(files, port, remote_dir="/home")
            second = flash_files(files, port, remote_dir="/home")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=5)
        results["flash"] = {"bytes": first.bytes_written, "seconds": round(first.seconds, 2),
                            "bytes_per_second": round(first.bytes_per_second),
                            "unchanged_reflash_seconds": round(second.seconds, 2),
                            "link": "pty to MicroPython 1.27 wasm (no baud limit)"}
        results["peak_rss_mb"] = round(peak_rss_mb(), 1)
        record("deploy", results)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
