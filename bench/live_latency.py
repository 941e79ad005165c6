"""Live classification cost: inference per window, latency from a window's last sample to its decision,
and CPU share while listening in real time.

    python -m bench live_latency [--model DIR|ZIP] [--seconds 20] [--windows 300]

Without --model a small project is built from ../shared/datasets (Speech Commands yes/no and a
background recording) and trained for a few epochs; accuracy does not matter here, only cost.
Latency and CPU are measured on the real audio stack: a private PulseAudio server whose null sink
is the microphone, with a Speech Commands track played into it by `paplay` while a
MicrophoneSource (sounddevice) records it. Goals: decision within 50 ms, well under 10% of one core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DATASETS, peak_rss_mb, record

SR = 16000


def build_model(workdir: Path) -> Path:
    """A trained project from real recordings (no real-time playing), returned as its folder."""
    import csv

    from core.audio import load
    from core.ingest import extract_recording
    from core.project import Project
    from core.spec import BACKGROUND_NOISE, TrainSpec
    from core.train import train

    with open(DATASETS / "manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle)]
    project = Project.create(workdir / "bench-words", name="bench-words")
    noise = load(DATASETS / "background_noise" / "running_tap.wav", SR)[: 25 * SR] * 0.3
    extract_recording(project, project.get_class(BACKGROUND_NOISE), noise, mode="fixed")
    for word in ("yes", "no"):
        info = project.add_class(word)
        clips = [load(DATASETS / r["path"], SR) for r in rows if r["class"] == word][:30]
        project.add_clips(info, [np.resize(c, SR).astype(np.float32) for c in clips], prefix="bench")
    train(project, TrainSpec(epochs=5, min_samples=20, seed=0))
    return project.root


def int8_classifier(model: Path) -> Any:
    """The int8 model next to (or inside) `model` as a Classifier, or None when there is none."""
    import json

    from core.classifier import Classifier

    folder = model / "models" / "latest" if (model / "project.json").exists() else model
    if model.suffix == ".zip":
        with zipfile.ZipFile(model) as archive:
            names = {Path(n).name: n for n in archive.namelist()}
            if "model_int8.tflite" not in names:
                return None
            return Classifier(archive.read(names["model_int8.tflite"]),
                              [x for x in archive.read(names["labels.txt"]).decode().splitlines() if x],
                              json.loads(archive.read(names["metadata.json"])), str(model))
    if not (folder / "model_int8.tflite").exists():
        return None
    return Classifier((folder / "model_int8.tflite").read_bytes(),
                      [x for x in (folder / "labels.txt").read_text().splitlines() if x],
                      json.loads((folder / "metadata.json").read_text()), str(folder))


def inference_times(classifier: Any, windows: int) -> dict[str, float]:
    """Milliseconds per window (log-mel + TFLite) over `windows` windows of real speech."""
    from core.infer import StreamingClassifier, StreamSettings

    audio = speech_track(max(2.0, windows * 0.25 + 1.0))
    streaming = StreamingClassifier(classifier, StreamSettings(threshold=1.0))
    streaming.process(audio[: 2 * SR])  # warm up
    took = [w.seconds * 1000 for w in streaming.process(audio[2 * SR:])][:windows]
    return {"mean_ms": round(float(np.mean(took)), 3), "p50_ms": round(float(np.percentile(took, 50)), 3),
            "p95_ms": round(float(np.percentile(took, 95)), 3), "windows": len(took)}


def speech_track(seconds: float) -> np.ndarray:
    """Speech Commands words back to back with short pauses, `seconds` long."""
    from core.audio import load

    files = sorted((DATASETS / "speech_commands").glob("*/*.wav"))
    rng = np.random.default_rng(0)
    pieces, total = [], 0
    for i in rng.permutation(len(files)):
        y = load(files[i], SR)
        pieces += [y, np.zeros(SR // 4, dtype=np.float32)]
        total += y.size + SR // 4
        if total >= seconds * SR:
            break
    return np.concatenate(pieces)[: int(seconds * SR)]


def live_run(classifier: Any, seconds: float) -> dict[str, Any]:
    """Listen to the virtual microphone for `seconds` while speech plays into it."""
    from core.capture import MicrophoneSource
    from core.infer import StreamingClassifier
    from tests.fixtures.pulse import running_pulse

    with running_pulse("earshot-bench-pulse-") as mic:
        streaming = StreamingClassifier(classifier)
        latencies: list[float] = []
        with MicrophoneSource(SR, "default") as source:
            mic.play(speech_track(seconds + 1.0), SR, wait=False)
            cpu0, wall0 = time.process_time(), time.monotonic()
            while streaming.samples_seen < seconds * SR:
                block = source.read(timeout=0.5)
                if block is None:
                    break
                first = streaming.samples_seen
                windows = streaming.process(block)
                done = time.monotonic()
                for w in windows:
                    end = int(round(w.time * SR))
                    captured = source.last_arrival - (first + block.size - end) / SR
                    latencies.append((done - captured) * 1000)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            stream_latency = source.latency
            overflows = source.overflows
        mic.wait_players()
    lat = np.array(latencies)
    return {
        "seconds": round(wall, 2),
        "windows": int(lat.size),
        "latency_ms": {"mean": round(float(lat.mean()), 2), "p50": round(float(np.percentile(lat, 50)), 2),
                       "p95": round(float(np.percentile(lat, 95)), 2), "max": round(float(lat.max()), 2)},
        "portaudio_input_latency_ms": round(stream_latency * 1000, 1),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "overflows": overflows,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench live_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="project folder, model folder or exported zip")
    parser.add_argument("--seconds", type=float, default=20.0, help="real-time listening (default: 20)")
    parser.add_argument("--windows", type=int, default=300, help="windows timed per model (default: 300)")
    args = parser.parse_args(argv)

    from core.classifier import load_classifier

    with tempfile.TemporaryDirectory() as workdir:
        started = time.monotonic()
        model = args.model or build_model(Path(workdir))
        built = time.monotonic() - started
        classifier = load_classifier(model)
        results: dict[str, Any] = {"model": str(args.model or "trained from the datasets (5 epochs)"),
                                   "labels": list(classifier.labels)}
        if args.model is None:
            results["build_seconds"] = round(built, 1)
        results["inference_float32"] = inference_times(classifier, args.windows)
        int8 = int8_classifier(Path(model))
        if int8 is None and args.model is None:
            from core.export import export_project

            int8 = int8_classifier(export_project(Path(model), Path(workdir) / "bench.zip").path)
        results["inference_int8"] = inference_times(int8, args.windows) if int8 is not None else None
        results["live"] = live_run(classifier, args.seconds)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    live = results["live"]
    int8_text = f"int8 {results['inference_int8']['mean_ms']:.2f} ms" if int8 is not None else "no int8 model"
    print(f"inference per window: float32 {results['inference_float32']['mean_ms']:.2f} ms, {int8_text}")
    print(f"decision after the window's last sample: p50 {live['latency_ms']['p50']:.1f} ms, "
          f"p95 {live['latency_ms']['p95']:.1f} ms (goal 50 ms; PortAudio adds "
          f"{live['portaudio_input_latency_ms']:.0f} ms input latency)")
    print(f"CPU while listening: {live['cpu_percent_of_one_core']:.1f}% of one core (goal well under 10%)")
    record("live_latency", results)
    return 0
