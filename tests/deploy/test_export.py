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

from core.errors import DeployError
from core.project import Project
from core.push.settings import default_topic
from core.spec import FeatureSpec
from earshot.cli import main as earshot_main
from tests.deploy.conftest import rng_pick
from tests.fixtures.datasets import DatasetFile

pytestmark = pytest.mark.slow
ZIP_FILES = {"model.keras", "model.tflite", "model_int8.tflite", "labels.txt", "metadata.json",
             "model_int8.h", "model_int8.cc", "predict.py", "README.md", "requirements.txt"}
ROOT = Path(__file__).resolve().parents[2]


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


def test_zip_holds_every_form_of_the_model(exported: Path, unpacked: Path, trained_project: Path) -> None:
    names = set(zipfile.ZipFile(exported).namelist())
    assert {n for n in names if not n.startswith("earshot_runtime/")} == ZIP_FILES
    meta = json.loads((unpacked / "metadata.json").read_text())
    labels = (unpacked / "labels.txt").read_text().splitlines()
    assert labels == meta["labels"] == ["Background Noise", "yes", "no", "stop"]
    spec = FeatureSpec.from_dict(meta["features"])
    assert meta["input_shape"] == list(spec.input_shape) and meta["sample_rate"] == 16000
    assert meta["clip_seconds"] == 1.0 and meta["train"]["epochs"] > 0 and meta["version"]
    assert meta["int8"]["input"]["dtype"] == "int8" and meta["int8"]["output"]["dtype"] == "int8"
    assert meta["int8"]["input"]["scale"] > 0
    assert meta["push_topic"] == default_topic(Project.open(trained_project).name)  # listen --push's topic
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


def test_predict_py_runs_the_runtime_copied_verbatim(exported: Path, unpacked: Path) -> None:
    from core.export import runtime_files

    copied = runtime_files()
    assert copied and all(name.startswith("earshot_runtime/") for name in copied)
    with zipfile.ZipFile(exported) as archive:
        assert {name: archive.read(name) for name in copied} == copied
    for name in ("audio.py", "tflite.py", "logmel.py", "stream.py", "bundle.py"):
        original = (ROOT / "core" / "runtime" / name).read_bytes()
        assert (unpacked / "earshot_runtime" / name).read_bytes() == original
    sources = [(unpacked / "predict.py").read_text()] + [data.decode() for data in copied.values()]
    imports = {m.group(1) for text in sources
               for m in re.finditer(r"^\s*(?:import|from)\s+(\w+)", text, re.MULTILINE)}
    assert imports <= {"__future__", "argparse", "json", "os", "sys", "io", "math", "time", "types",
                       "collections", "contextlib", "dataclasses", "functools", "importlib", "threading",
                       "typing", "numpy", "soundfile", "ai_edge_litert", "tflite_runtime", "tensorflow",
                       "earshot_runtime", "queue", "signal", "urllib", "zipfile"}, imports
    # --listen imports sounddevice and paho-mqtt by name, only when listening and pushing.


def test_runtime_is_python_37_syntax() -> None:
    import ast

    for path in sorted((ROOT / "core" / "runtime").glob("*.py")):
        tree = ast.parse(path.read_text(), feature_version=(3, 7))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "zip" and node.keywords:
                pytest.fail(f"{path.name}: zip(strict=) is Python 3.10")


def _earshot_rows(model: Path, files: list[Path], capsys: pytest.CaptureFixture[str]) -> dict[str, dict]:
    assert earshot_main(["predict", str(model), *map(str, files), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return {Path(r["file"]).name: r for r in rows}


def at_other_rates(files: list[Path], folder: Path) -> list[Path]:
    """Each file rewritten at 8, 22.05, 44.1 and 48 kHz (16-bit WAV), one rate per file in turn."""
    import soundfile

    from core.audio import resample

    out = []
    for i, path in enumerate(files):
        rate = (8000, 22050, 44100, 48000)[i % 4]
        y, sr = soundfile.read(str(path), dtype="float32")
        target = folder / f"{i}-{path.stem}-{rate}.wav"
        soundfile.write(str(target), resample(y, sr, rate), rate, subtype="PCM_16")
        out.append(target)
    return out


def test_predict_py_in_a_fresh_venv_agrees_with_earshot_predict(
        exported: Path, unpacked: Path, standalone_python: Path, held_out_files: dict[str, list[DatasetFile]],
        datasets_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    files = [item.path for name in held_out_files for item in rng_pick(held_out_files[name], 4, seed=3)]
    files += at_other_rates(files[::2], tmp_path)  # 16 kHz originals, and 8, 22.05, 44.1, 48 kHz copies
    files.append(datasets_dir / "background_noise" / "exercise_bike.wav")  # 60+ s: windows and a vote
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(standalone_python), str(unpacked / "predict.py"), "--json",
                          "--model", str(unpacked / "model.tflite"), *map(str, files)],
                         capture_output=True, text=True, env=env, cwd=unpacked, timeout=300)
    assert run.returncode == 0, run.stderr
    standalone = {Path(r["file"]).name: r for r in map(json.loads, run.stdout.splitlines())}
    earshot = _earshot_rows(exported, files, capsys)
    assert {k: r["label"] for k, r in standalone.items()} == {k: r["label"] for k, r in earshot.items()}
    for name, row in standalone.items():
        for label, score in row["scores"].items():
            assert score == pytest.approx(earshot[name]["scores"][label], abs=2e-3), name
    assert standalone["exercise_bike.wav"]["label"] == "Background Noise"

    int8_run = subprocess.run([str(standalone_python), str(unpacked / "predict.py"), *map(str, files)],
                              capture_output=True, text=True, env=env, cwd=unpacked, timeout=300)
    assert int8_run.returncode == 0, int8_run.stderr
    rows = [line.split("\t") for line in int8_run.stdout.splitlines()]
    int8_labels = {Path(row[0]).name: row[1] for row in rows}
    agree = np.mean([int8_labels[name] == standalone[name]["label"] for name in standalone])
    assert agree >= 0.8, (int8_labels, standalone)


def test_speech_model_zip_runs_standalone_and_carries_the_small_model_for_boards(
        speech_model_zip: Path, standalone_python: Path, held_out_files: dict[str, list[DatasetFile]],
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(speech_model_zip) as archive:
        archive.extractall(folder)
    names = {p.name for p in folder.iterdir()}
    assert {"head.npz", "melspectrogram.tflite", "embedding_model.tflite", "model_int8.tflite",
            "model_int8.cc", "predict.py", "earshot_runtime"} <= names
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["model"]["kind"] == "speech" and meta["input_shape"] and meta["int8"]["input"]["scale"] > 0
    assert meta["accuracy"]["speech"] >= 0.9 and meta["accuracy"]["int8"] is not None
    picked = [(item.path, name) for name, items in held_out_files.items()
              for item in rng_pick(items, 3, seed=5)]
    copies = at_other_rates([path for path, _ in picked], tmp_path)  # 8, 22.05, 44.1, 48 kHz
    truth = {str(path): name for path, name in picked}
    truth.update({str(copy): name for copy, (_, name) in zip(copies, picked, strict=True)})
    files = [Path(f) for f in truth]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(standalone_python), str(folder / "predict.py"), "--json", *map(str, files)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    standalone = {r["file"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert earshot_main(["predict", str(speech_model_zip), *map(str, files), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    earshot = {r["file"]: r for r in rows}
    assert set(standalone) == set(earshot) == set(truth)
    for name, row in standalone.items():
        assert row["label"] == earshot[name]["label"], name
        for label, score in row["scores"].items():
            assert score == pytest.approx(earshot[name]["scores"][label], abs=2e-3), name
    assert np.mean([row["label"] == truth[name] for name, row in standalone.items()]) >= 0.8
    small = subprocess.run([str(standalone_python), str(folder / "predict.py"), "--model",
                            "model_int8.tflite", str(files[0])], capture_output=True, text=True, env=env,
                           timeout=300)
    assert small.returncode == 0 and small.stdout.split("\t")[1] in meta["labels"], small.stderr


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


def test_export_and_flash_say_the_board_gets_the_small_model(speech_model_zip: Path) -> None:
    from earshot.commands.deploy import small_model_note

    note = small_model_note(speech_model_zip)
    assert note is not None and "small CNN" in note and "speech" in note and "%" in note
    meta = json.loads(zipfile.ZipFile(speech_model_zip).read("metadata.json"))
    assert meta["accuracy"]["speech"] is not None and meta["accuracy"]["int8"] is not None
    readme_text = zipfile.ZipFile(speech_model_zip).read("README.md").decode()
    assert "pretrained speech ear" in readme_text and "Apache-2.0" in readme_text


def test_export_of_an_ear_model_after_a_class_was_renamed_says_train_again(tmp_path: Path) -> None:
    """The small CNN trained at export would learn the renamed class while labels.txt has the old one."""
    from core.export import export_project
    from core.project import Project
    from core.spec import BACKGROUND_NOISE, TrainSpec
    from core.train import train

    project = Project.create(tmp_path / "tones")
    rng = np.random.default_rng(0)
    t = np.arange(project.audio.clip_samples) / project.audio.sample_rate
    for name, freq in ((BACKGROUND_NOISE, 0.0), ("low", 300.0), ("high", 3000.0)):
        info = project.get_class(name) if name == BACKGROUND_NOISE else project.add_class(name)
        clips = [(0.3 * np.sin(2 * np.pi * freq * (1 + 0.05 * rng.random()) * t) +
                  0.01 * rng.standard_normal(t.size)).astype(np.float32) for _ in range(20)]
        project.add_clips(info, clips, prefix=name)
    project.set_train_spec(TrainSpec(epochs=2, test_fraction=0.3, seed=1, model="speech"))
    assert train(project).kind == "speech"
    project.rename_class("low", "hum")
    out = tmp_path / "tones.zip"
    with pytest.raises(DeployError, match=r"^the classes changed since the model was trained") as info:
        export_project(project.root, out)
    assert "low" in str(info.value) and "hum" in str(info.value) and "\n" not in str(info.value)
    assert "earshot train" in (info.value.hint or "") and not out.exists()
