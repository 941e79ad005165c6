"""Export of a project trained on real speech: int8 fidelity, the zip in earshot, predict.py standalone."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from core.audio import load
from core.errors import DeployError
from core.features import fit_clip, log_mel
from core.spec import FeatureSpec
from earshot.cli import main as earshot_main
from tests.deploy.conftest import rng_pick
from tests.fixtures.datasets import DatasetFile

pytestmark = pytest.mark.slow
ZIP_FILES = {"model.keras", "model.tflite", "model_int8.tflite", "labels.txt", "metadata.json",
             "model_int8.h", "model_int8.cc", "predict.py", "README.md", "requirements.txt"}


@pytest.fixture(scope="session")
def exported(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "words.zip"
    assert earshot_main(["export", str(trained_project), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def unpacked(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(exported) as archive:
        archive.extractall(folder)
    return folder


@pytest.fixture(scope="session")
def standalone_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only numpy, soundfile and ai-edge-litert (made once per session)."""
    folder = tmp_path_factory.mktemp("predict-venv")
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "numpy", "soundfile", "ai-edge-litert"], check=True, timeout=600)
    return python


def load_predict_module(unpacked: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("exported_predict", unpacked / "predict.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["exported_predict"] = module
    spec.loader.exec_module(module)
    return module


def test_zip_holds_every_form_of_the_model(exported: Path, unpacked: Path) -> None:
    assert set(zipfile.ZipFile(exported).namelist()) == ZIP_FILES
    meta = json.loads((unpacked / "metadata.json").read_text())
    labels = (unpacked / "labels.txt").read_text().splitlines()
    assert labels == meta["labels"] == ["Background Noise", "yes", "no", "stop"]
    spec = FeatureSpec.from_dict(meta["features"])
    assert meta["input_shape"] == list(spec.input_shape) and meta["sample_rate"] == 16000
    assert meta["clip_seconds"] == 1.0 and meta["train"]["epochs"] > 0 and meta["version"]
    assert meta["int8"]["input"]["dtype"] == "int8" and meta["int8"]["output"]["dtype"] == "int8"
    assert meta["int8"]["input"]["scale"] > 0
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(unpacked / "model_int8.tflite"))
    details = interpreter.get_input_details()[0]
    assert details["dtype"] == np.int8 and list(details["shape"][1:]) == meta["input_shape"]
    assert details["quantization"][0] == pytest.approx(meta["int8"]["input"]["scale"])
    assert interpreter.get_output_details()[0]["dtype"] == np.int8


def test_int8_accuracy_within_one_point_of_float(unpacked: Path) -> None:
    accuracy = json.loads((unpacked / "metadata.json").read_text())["accuracy"]
    assert accuracy["test_clips"] >= 80
    assert accuracy["float32"] > 0.6, "the model did not learn: the comparison would mean nothing"
    assert abs(accuracy["int8"] - accuracy["float32"]) <= 0.01 + 1e-9, accuracy
    assert accuracy["keras"] == pytest.approx(accuracy["float32"], abs=0.01 + 1e-9)


def test_c_array_is_the_int8_model(unpacked: Path) -> None:
    source = (unpacked / "model_int8.cc").read_text()
    body = source[source.index("{") + 1:source.index("};")]
    data = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body))
    assert data == (unpacked / "model_int8.tflite").read_bytes()
    assert f"g_model_int8_len = {len(data)};" in source
    header = (unpacked / "model_int8.h").read_text()
    assert 'kEarshotLabels[kEarshotLabelCount] = {"Background Noise", "yes", "no", "stop"}' in header


def test_predict_py_features_equal_earshot_features(unpacked: Path, held_out_files: dict) -> None:
    module = load_predict_module(unpacked)
    spec = FeatureSpec()
    mirrored = module.FeatureSpec.from_dict(spec.to_dict())
    for item in rng_pick(held_out_files["yes"], 5):
        clip = fit_clip(load(item.path, spec.sample_rate), spec.clip_samples)
        assert np.array_equal(module.log_mel(clip, mirrored), log_mel(clip, spec))
    source = (unpacked / "predict.py").read_text()
    imports = {m.group(1) for m in re.finditer(r"^\s*(?:import|from)\s+(\w+)", source, re.MULTILINE)}
    stdlib = {"__future__", "argparse", "json", "sys", "collections", "dataclasses", "functools", "pathlib",
              "typing", "time", "importlib", "queue", "signal", "threading", "urllib"}
    # sounddevice and paho-mqtt are imported (by name, only in --listen) through need().
    assert imports <= stdlib | {"numpy", "soundfile", "ai_edge_litert"}, imports


def _earshot_labels(model: Path, files: list[Path], capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert earshot_main(["predict", str(model), *map(str, files), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return {Path(r["file"]).name: r["label"] for r in rows}


def test_predict_py_in_a_fresh_venv_agrees_with_earshot_predict(
        exported: Path, unpacked: Path, standalone_python: Path, held_out_files: dict[str, list[DatasetFile]],
        datasets_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [item.path for name in held_out_files for item in rng_pick(held_out_files[name], 4, seed=3)]
    files.append(datasets_dir / "background_noise" / "exercise_bike.wav")  # 60+ s: windows and a vote
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(standalone_python), str(unpacked / "predict.py"), "--json",
                          "--model", str(unpacked / "model.tflite"), *map(str, files)],
                         capture_output=True, text=True, env=env, cwd=unpacked, timeout=300)
    assert run.returncode == 0, run.stderr
    standalone = {Path(r["file"]).name: r["label"] for r in map(json.loads, run.stdout.splitlines())}
    assert standalone == _earshot_labels(exported, files, capsys)
    assert standalone["exercise_bike.wav"] == "Background Noise"

    int8_run = subprocess.run([str(standalone_python), str(unpacked / "predict.py"), *map(str, files)],
                              capture_output=True, text=True, env=env, cwd=unpacked, timeout=300)
    assert int8_run.returncode == 0, int8_run.stderr
    rows = [line.split("\t") for line in int8_run.stdout.splitlines()]
    int8_labels = {Path(row[0]).name: row[1] for row in rows}
    agree = np.mean([int8_labels[name] == standalone[name] for name in standalone])
    assert agree >= 0.8, (int8_labels, standalone)


def test_zip_works_in_place_of_a_project_for_listen(exported: Path, datasets_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    noise = datasets_dir / "background_noise" / "pink_noise.wav"
    code = earshot_main(["listen", str(exported), "--input", str(noise), "--speed", "0", "--seconds", "5",
                         "--json", "--background"])
    assert code == 0
    decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert decisions and {d["label"] for d in decisions} == {"Background Noise"}


def test_export_of_an_untrained_project_says_train_first(tmp_path: Path) -> None:
    from core.export import export_project
    from core.project import Project

    Project.create(tmp_path / "empty")
    with pytest.raises(DeployError, match="no trained model") as info:
        export_project(tmp_path / "empty")
    assert "earshot train" in (info.value.hint or "")
    with pytest.raises(DeployError, match="not an earshot project"):
        export_project(tmp_path)


@pytest.mark.hardware
def test_flash_of_a_project_exports_it_and_the_board_gets_the_int8_model(
        trained_project: Path, micropython_board: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.deploy.test_flash_board import read_back

    command = ["flash", str(trained_project), "--port", micropython_board, "--dir", "/home", "--json"]
    assert earshot_main(command) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["written"] == ["model_int8.tflite", "labels.txt", "metadata.json", "main.py"]
    with zipfile.ZipFile(trained_project / "words-model.zip") as archive:
        expected = {name: archive.read(name) for name in ("model_int8.tflite", "labels.txt")}
    held = read_back(micropython_board, ["/home/model_int8.tflite", "/home/labels.txt"])
    assert held == {f"/home/{name}": data for name, data in expected.items()}
