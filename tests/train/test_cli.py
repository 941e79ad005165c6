"""`earshot train`, `eval` and `predict` as users run them, on real clips and real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.audio import load, save_wav
from core.features import fit_clip
from core.project import Project
from earshot.cli import main
from tests.conftest import REPO
from tests.fixtures.datasets import DatasetFile
from tests.train.conftest import SR, label_of

pytestmark = pytest.mark.slow


def test_train_json_prints_epochs_then_a_summary(make_tone_project: Callable[..., Project],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    project = make_tone_project()
    assert main(["train", str(project.root), "--epochs", "2", "--batch-size", "8", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["epoch"] for line in lines[:2]] == [1, 2]
    assert set(lines[0]) == {"epoch", "epochs", "train_accuracy", "train_loss", "test_accuracy", "test_loss",
                             "seconds"}
    assert set(lines[2]) == {"test_accuracy", "train_accuracy", "epochs", "seconds", "classes", "model",
                             "choice"}
    assert lines[2]["epochs"] == 2 and lines[2]["classes"] == ["Background Noise", "low", "high"]
    meta = json.loads((project.root / "models" / "latest" / "metadata.json").read_text())
    assert meta["train"]["batch_size"] == 8


def test_train_refuses_thin_data_in_one_line(make_tone_project: Callable[..., Project],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    project = make_tone_project(count=10)
    assert main(["train", str(project.root)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("earshot:")]
    assert len(errors) == 1 and errors[0].startswith("earshot: error: not enough samples")
    err = errors[0]
    assert "low: 10 of 20" in err and "record or import more samples" in err


def test_train_text_output_has_progress_charts_and_confusion(trained_tone_project: Project,
                                                             tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from earshot.commands.train import charts, confusion_table

    meta = json.loads((trained_tone_project.root / "models" / "latest" / "metadata.json").read_text())
    from core.train import EpochMetrics

    text = charts([EpochMetrics(**h) for h in meta["history"]], width=60, height=10)
    assert "accuracy" in text and "loss" in text and "\x1b[" not in text
    table = confusion_table(meta["labels"], meta["confusion"])
    assert "[1] Background Noise" in table and "[3] high" in table


def test_eval_matches_the_training_metrics(trained_tone_project: Project,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(trained_tone_project.root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    meta = json.loads((trained_tone_project.root / "models" / "latest" / "metadata.json").read_text())
    assert report["count"] == len(meta["test_split"]) == 12
    assert report["confusion"] == meta["confusion"]
    assert [c["label"] for c in report["per_class"]] == meta["labels"]
    assert main(["eval", str(trained_tone_project.root)]) == 0
    assert "precision" in capsys.readouterr().out


def test_predict_json_on_real_and_long_files_without_tensorflow(
        trained_speech_project: Project, speech_split: dict[str, list[DatasetFile]], tmp_path: Path) -> None:
    words = [f for f in speech_split["test"] if f.label == "yes"][:3]
    silence = next(f for f in speech_split["test"] if f.label == "_silence_")
    long_file = save_wav(tmp_path / "long.wav", np.concatenate(
        [fit_clip(load(f.path, SR), SR) for f in [*words, silence]] + [np.zeros(SR // 3, np.float32)]), SR)
    files = [str(f.path) for f in words[:2]] + [str(long_file)]
    modules = tmp_path / "modules.json"
    code = ("import json, sys\nfrom earshot.cli import main\n"
            f"code = main(['predict', {str(trained_speech_project.root)!r}, *{files!r}, '--json'])\n"
            f"open({str(modules)!r}, 'w').write(json.dumps(sorted(sys.modules)))\nsys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(modules.read_text()))
    assert "tensorflow" not in loaded and "keras" not in loaded and "ai_edge_litert" in loaded
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["file"] for r in results] == files
    labels = ["Background Noise", "yes", "no", "up"]
    for r in results:
        assert list(r["scores"]) == labels and sum(r["scores"].values()) == pytest.approx(1, abs=0.01)
        assert r["label"] in labels and 0 < r["confidence"] <= 1
    assert "windows" not in results[0]
    assert sum(r["label"] == "yes" for r in results[:2]) >= 1
    windows = results[2]["windows"]
    assert [w["start"] for w in windows] == [0.0, 1.0, 2.0, 3.0]
    votes = [w["label"] for w in windows]
    assert results[2]["label"] == max(set(votes), key=votes.count)
    assert results[2]["confidence"] == pytest.approx(votes.count(results[2]["label"]) / 4)
    assert votes[3] == label_of(silence)


def test_predict_reports_bad_files_and_keeps_going(trained_tone_project: Project, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    good = next((trained_tone_project.root / "samples" / "low").glob("*.wav"))
    assert main(["predict", str(trained_tone_project.root), str(bad), str(good), "--json"]) == 1
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert lines[0]["file"] == str(bad) and "error" in lines[0] and lines[1]["label"] == "low"
    assert "earshot: error:" in captured.err


def test_ctrl_c_stops_training_and_keeps_the_model(trained_tone_project: Project) -> None:
    folder = trained_tone_project.root / "models"
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    process = subprocess.Popen([sys.executable, "-m", "earshot", "train", str(trained_tone_project.root),
                                "--epochs", "500", "--json"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    assert first["epoch"] == 1
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "training cancelled; the project and its previous model are unchanged" in err
    assert all(json.loads(line)["epoch"] < 500 for line in out.splitlines())
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
