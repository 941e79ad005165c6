"""earshot calibrate, earshot map and earshot listen --keep-to on a real trained project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.audio import load, save_wav
from core.calibrate import SMOOTHING, Outcome, score_windows, sweep
from core.classifier import load_classifier
from core.keep import model_out_of_date
from core.project import Project
from core.spec import BACKGROUND_NOISE
from core.teststream import PlacedSound, SoundStream
from earshot.commands.validate import curve_chart, describe, table
from tests.conftest import REPO
from tests.validate.conftest import SR, tone_take

PATTERN = [(2.0, 300), (5.0, 2000), (8.0, 300), (11.0, 2000), (14.0, 2000), (17.0, 300)]


def earshot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "earshot", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_real_model_on_a_stream_with_a_known_answer(trained_tones: Path) -> None:
    classifier = load_classifier(trained_tones)
    audio = tone_take(PATTERN, 20.0)
    sounds = [PlacedSound("low" if f == 300 else "high", s, s + 1 / 3) for s, f in PATTERN]
    stream = SoundStream(audio, SR, sounds)
    [outcome] = sweep(score_windows(classifier, stream), stream, classifier.audio, thresholds=(0.5,),
                      smoothing=(3,))
    # Any model kind hears most tones in the right class and never in the hiss.
    assert outcome.detected >= 5 and outcome.false_activations - outcome.confusions == 0
    assert outcome.miss_rate == pytest.approx(1 - outcome.detected / 6)
    assert outcome.delay_ms is not None and -1 / 3 * 1000 < outcome.delay_ms < 1500


def test_calibrate_recommends_saves_and_is_the_same_for_a_seed(tones: Callable[[], Project]) -> None:
    project = tones()
    first = earshot("calibrate", str(project.root), "--minutes", "2", "--seed", "3", "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    rec = result["recommended"]
    assert set(rec) >= {"threshold", "smooth", "false_per_hour", "miss_rate", "delay_ms"}
    assert len(result["curve"]) == 14 * 6
    assert result["stream"]["sounds"] >= 15 and result["stream"]["seconds"] == 120
    default = result["default"]
    assert (default["threshold"], default["smooth"]) == (0.5, 3) and result["current"] == default
    assert rec["miss_rate"] <= default["miss_rate"] + 0.03 + 1e-9
    assert rec["false_per_hour"] <= min(o["false_per_hour"] for o in result["curve"]
                                        if o["miss_rate"] <= default["miss_rate"] + 0.03 + 1e-9) + 2 * 30
    saved = Project.open(project.root)
    assert saved.settings("validate") == {"threshold": rec["threshold"], "smooth_windows": rec["smooth"]}
    assert saved.settings("calibration")["false_per_hour"] == rec["false_per_hour"]
    again = earshot("calibrate", str(project.root), "--minutes", "2", "--seed", "3", "--json", "--no-save")
    other = earshot("calibrate", str(project.root), "--minutes", "2", "--seed", "4", "--json", "--no-save")
    curve = [{k: v for k, v in o.items()} for o in result["curve"]]
    assert [o for o in json.loads(again.stdout)["curve"]] == curve
    assert json.loads(other.stdout)["curve"] != curve

    take = save_wav(project.root.parent / "take.wav", tone_take(PATTERN, 20.0), SR)
    listened = earshot("listen", str(project.root), "--input", str(take), "--speed", "0")
    assert f"threshold {rec['threshold']:g}, smoothing {rec['smooth']}" in listened.stderr


def test_calibrate_prints_the_curve_and_the_table(tones: Callable[[], Project], tmp_path: Path) -> None:
    project = tones()
    noise = save_wav(tmp_path / "hum.wav", (0.02 * np.sin(np.arange(SR * 30) * 2 * np.pi * 50 / SR))
                     .astype(np.float32), SR)
    done = earshot("calibrate", str(project.root), "--minutes", "1", "--noise", str(noise), "--no-save")
    assert done.returncode == 0, done.stderr
    assert "false activations per hour" in done.stdout and "smooth 3" in done.stdout
    assert "recommended:" in done.stdout and "current:" in done.stdout and "not saved" in done.stdout
    assert " threshold  smooth  false/hour" in done.stdout
    assert "\x1b[" not in done.stdout
    assert Project.open(project.root).settings("validate") == {}


def test_calibrate_refuses_a_project_without_a_model(tmp_path: Path) -> None:
    Project.create(tmp_path / "empty")
    done = earshot("calibrate", str(tmp_path / "empty"))
    assert done.returncode == 1
    assert done.stderr.startswith("earshot: error:") and "train" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_listen_keeps_every_reported_window(tones: Callable[[], Project]) -> None:
    project = tones()
    take = tone_take(PATTERN, 20.0)
    path = save_wav(project.root.parent / "take.wav", take, SR)
    noise = project.get_class(BACKGROUND_NOISE)
    before = len(project.samples(noise))
    assert model_out_of_date(project) is None
    done = earshot("listen", str(project.root), "--input", str(path), "--speed", "0", "--json",
                   "--keep-to", "background noise")
    assert done.returncode == 0, done.stderr
    decisions = [json.loads(line) for line in done.stdout.splitlines()]
    # (the end of the file is padded with silence, which a small model may hear as a tone)
    labels = [d["label"] for d in decisions if d["time"] <= 20]
    assert len(labels) >= 5 and set(labels) <= {"low", "high"}
    n = len(decisions)
    kept = [p for p in project.samples(noise) if p.name.startswith("kept")]
    assert len(project.samples(noise)) == before + n and len(kept) == n
    assert f"kept {n} windows as samples of 'Background Noise'" in done.stderr
    recordings = [p for p in project.recordings(noise) if "kept" in p.name]
    assert len(recordings) == n
    # Each kept sample is exactly the window that ended at its decision's time (or the last second heard,
    # for a decision on the silence that pads the end of the file).
    heard = load(path, SR)
    ends = [min(int(round(d["time"] * SR)), heard.size) for d in decisions]
    expected = [heard[end - SR:end] for end in ends]
    for recording in recordings:
        window = load(recording, SR)
        assert sum(np.allclose(window, e, atol=1.5 / 32768) for e in expected) == 1
    assert model_out_of_date(project) == f"{n} new samples since the model was trained"


def test_keep_max_stops_listening_after_n(tones: Callable[[], Project]) -> None:
    project = tones()
    path = save_wav(project.root.parent / "take.wav", tone_take(PATTERN, 20.0), SR)
    done = earshot("listen", str(project.root), "--input", str(path), "--speed", "0", "--keep-to", "low",
                   "--keep-max", "2")
    assert done.returncode == 0, done.stderr
    assert "kept 2 windows as samples of 'low'" in done.stderr and "--keep-max limit" in done.stderr
    assert len([p for p in project.samples(project.get_class("low")) if p.name.startswith("kept")]) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--keep-to", "nope"], "no class named 'nope'"),
    (["--keep-max", "3"], "--keep-max needs --keep-to"),
    (["--keep-to", "low", "--keep-max", "0"], "at least 1"),
])
def test_listen_keep_refuses_bad_requests(tones: Callable[[], Project], args: list[str],
                                          message: str) -> None:
    project = tones()
    done = earshot("listen", str(project.root), "--input", "nothing.wav", *args)
    assert done.returncode == 1 and message in done.stderr


def test_map_finds_the_mislabelled_sample(tones: Callable[[], Project]) -> None:
    project = tones()
    high = project.samples(project.get_class("high"))[3]
    wrong = project.samples_dir(project.get_class("low")) / f"oops-{high.name}"
    os.replace(high, wrong)
    done = earshot("map", str(project.root), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["points"]) == 72
    assert data["suspects"][0]["file"] == str(wrong.relative_to(project.root))
    assert "'high'" in data["suspects"][0]["reason"]
    text = earshot("map", str(project.root))
    assert "Data map" in text.stdout and f"oops-{high.name}" in text.stdout


def test_ctrl_c_stops_calibrating_and_leaves_the_project_as_it_was(tones: Callable[[], Project]) -> None:
    import signal
    import time

    project = tones()
    before = (project.root / "project.json").read_bytes()
    command = [sys.executable, "-m", "earshot", "calibrate", str(project.root), "--minutes", "30"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    time.sleep(6)  # loading the model and building the stream, then scoring
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "the project is unchanged" in err and "Traceback" not in err
    assert (project.root / "project.json").read_bytes() == before


def sweep_result() -> SimpleNamespace:
    """Every smoothing of the real grid; reports before the sound's end for the lighter smoothings."""
    curve = [Outcome(t, s, 100, 90, int(10 * t * s), 0, 10.0 / (t * s), 0.1 * t / s, -48.0 + 10 * s)
             for s in SMOOTHING for t in (0.5, 0.7, 0.9)]
    return SimpleNamespace(curve=curve, recommended=curve[4], current=curve[0], default=curve[0])


def test_calibrate_table_says_what_a_negative_delay_means() -> None:
    result = sweep_result()
    lines = table(result).splitlines()
    assert lines[0].split()[-2:] == ["after", "end"]
    assert lines[-1].strip().startswith("after end:") and "negative: before it" in lines[-1]
    assert any("-38 ms" in line and "current" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    assert describe(result.curve[0]).endswith("5.0% missed, reported 38 ms before the end")
    assert describe(result.curve[-1]).endswith("reported 12 ms after the end")


def test_calibrate_chart_legend_gives_every_series_its_own_marker() -> None:
    chart = curve_chart(sweep_result())
    legend = [found.groups() for found in map(re.compile(r"(\S)\1 (smooth \d|recommended)").search,
                                             chart.splitlines()) if found]
    markers = [marker for marker, _ in legend]
    assert len(markers) == len(SMOOTHING) + 1, legend
    assert len(set(markers)) == len(markers), legend
