"""Export a trained project as one zip: Keras, float32 and int8 TFLite models, labels, metadata, the
int8 model as a C array for TensorFlow Lite for Microcontrollers, and a standalone predict.py.

    model.keras  model.tflite  model_int8.tflite  labels.txt  metadata.json
    model_int8.h  model_int8.cc  predict.py  README.md

The int8 model is calibrated on the project's own training clips (never its test split) and every
model is scored on the test split; the accuracies go into metadata.json. TensorFlow is imported
only inside `export_project`, for the int8 conversion.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import __version__, atomic, modelstore
from core.errors import DeployError
from core.push.settings import default_topic
from core.runtime.bundle import SMALL, model_ears, model_kind
from core.runtime.head import HEAD_FILE
from core.spec import AudioSpec, FeatureSpec, TrainSpec

CALIBRATION_CLIPS = 300  # enough for stable int8 ranges; conversion time grows with it
TEMPLATES = Path(__file__).parent  # export_predict.py.txt and export_readme.md.txt
C_ARRAY_NAME = "g_model_int8"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    labels: list[str]
    accuracy: dict[str, float]  # keras, float32, int8 on the test split
    sizes: dict[str, int]  # bytes of each file in the zip
    test_clips: int
    seconds: float
    kind: str = SMALL  # the project's model; the zip's model*.tflite are always the small CNN

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "labels": self.labels, "accuracy": self.accuracy,
                "sizes": self.sizes, "test_clips": self.test_clips, "seconds": round(self.seconds, 2),
                "model": self.kind}


def model_folder(project_dir: Path) -> Path:
    """`<project>/models/latest`, or DeployError saying how to get one."""
    root = Path(project_dir)
    if not (root / "project.json").is_file():
        raise DeployError(f"{root} is not an earshot project", "name the project folder you trained")
    folder = modelstore.current(root / "models") or root / "models" / "latest"
    model_file = any((folder / name).is_file() for name in ("model.keras", HEAD_FILE))
    if not model_file or not all((folder / name).is_file() for name in ("metadata.json", "labels.txt")):
        raise DeployError(f"{root} has no trained model", f"train it first: earshot train {root}")
    return folder


def _clip_paths(project_dir: Path,
                metadata: dict[str, Any]) -> tuple[list[Path], list[int], list[Path], list[int]]:
    """(train paths, train targets, test paths, test targets) of the clips the model was trained on."""
    from core.project import Project

    project = Project.open(project_dir)
    labels = list(metadata["labels"])
    test = {str(item["file"]): labels.index(item["label"]) for item in metadata.get("test_split", [])
            if item["label"] in labels}
    train_paths: list[Path] = []
    train_targets: list[int] = []
    for info in project.classes:
        if info.name not in labels:
            continue
        for path in project.samples(info):
            if str(path.relative_to(project.root)) not in test:
                train_paths.append(path)
                train_targets.append(labels.index(info.name))
    test_paths = [project.root / name for name in test if (project.root / name).is_file()]
    test_targets = [test[str(p.relative_to(project.root))] for p in test_paths]
    return train_paths, train_targets, test_paths, test_targets


def _log_mel(paths: list[Path], audio: AudioSpec, features: FeatureSpec,
             cache_dir: Path | None) -> np.ndarray:
    from core.dataset import cached_mel_power
    from core.features import power_to_db

    if not paths:
        return np.zeros((0, features.n_frames, features.n_mels), dtype=np.float32)
    return power_to_db(cached_mel_power(paths, audio, features, cache_dir), features)


def _calibration(features: np.ndarray, targets: list[int], limit: int, seed: int = 0) -> np.ndarray:
    """Up to `limit` training features, the same share from every class."""
    if len(features) <= limit:
        return features
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(np.asarray(targets) == k) for k in sorted(set(targets))]
    per_class = max(1, limit // len(by_class))
    picks = np.concatenate([rng.permutation(idx)[:per_class] for idx in by_class])
    return features[np.sort(picks)]


def tflite_accuracy(model: bytes, features: np.ndarray, targets: list[int]) -> float:
    """Accuracy of a TFLite model (float or int8 in/out) on log-mel `features [n, frames, mels]`."""
    from core.runtime.tflite import TFLiteModel

    if not len(features):
        return float("nan")
    scores = TFLiteModel(content=model).run_each(list(np.asarray(features, np.float32)[..., None]))
    return float(np.mean(scores.argmax(axis=1) == np.asarray(targets)))


def quantization(model: bytes) -> dict[str, Any]:
    """Input and output scale and zero point of an int8 model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    return {"input": {"dtype": np.dtype(inp["dtype"]).name, "scale": float(inp["quantization"][0]),
                      "zero_point": int(inp["quantization"][1])},
            "output": {"dtype": np.dtype(out["dtype"]).name, "scale": float(out["quantization"][0]),
                       "zero_point": int(out["quantization"][1])}}


def c_array(model: bytes, labels: list[str], quant: dict[str, Any], features: FeatureSpec) -> tuple[str, str]:
    """(model_int8.h, model_int8.cc): the model as an aligned byte array for TFLite Micro."""
    guard = "EARSHOT_MODEL_INT8_H_"
    label_list = ", ".join(json.dumps(label, ensure_ascii=True) for label in labels)
    header = "\n".join([
        "// The earshot int8 model for TensorFlow Lite for Microcontrollers (generated by earshot export).",
        f"#ifndef {guard}", f"#define {guard}", "",
        f"extern const unsigned char {C_ARRAY_NAME}[];", f"extern const unsigned int {C_ARRAY_NAME}_len;",
        "",
        f"constexpr int kEarshotFrames = {features.n_frames};",
        f"constexpr int kEarshotMels = {features.n_mels};",
        f"constexpr int kEarshotLabelCount = {len(labels)};",
        f"constexpr float kEarshotInputScale = {quant['input']['scale']!r}f;",
        f"constexpr int kEarshotInputZeroPoint = {quant['input']['zero_point']};",
        f"constexpr float kEarshotOutputScale = {quant['output']['scale']!r}f;",
        f"constexpr int kEarshotOutputZeroPoint = {quant['output']['zero_point']};",
        f"constexpr const char* kEarshotLabels[kEarshotLabelCount] = {{{label_list}}};",
        "", f"#endif  // {guard}", ""])
    rows = [", ".join(f"0x{b:02x}" for b in model[i:i + 12]) for i in range(0, len(model), 12)]
    source = "\n".join([
        '#include "model_int8.h"', "",
        "// Aligned so the interpreter can read the flatbuffer in place.",
        f"alignas(16) const unsigned char {C_ARRAY_NAME}[] = {{",
        *(f"  {row}," for row in rows), "};",
        f"const unsigned int {C_ARRAY_NAME}_len = {len(model)};", ""])
    return header, source


RUNTIME_PACKAGE = "earshot_runtime"


def runtime_files() -> dict[str, bytes]:
    """The runtime package (`core/runtime/*.py`), byte for byte, as `earshot_runtime/<module>.py`."""
    folder = Path(__file__).parent / "runtime"
    return {f"{RUNTIME_PACKAGE}/{path.name}": path.read_bytes() for path in sorted(folder.glob("*.py"))}


def predict_script(default_model: str = "model_int8.tflite") -> str:
    """The standalone predict.py: argument parsing around the copied runtime package."""
    template = (TEMPLATES / "export_predict.py.txt").read_text()
    return template.replace("@DEFAULT_MODEL@", default_model)


# What predict.py needs on a board (the bundle's requirements.txt).
REQUIREMENTS = """\
# python3 -m pip install -r requirements.txt  (on Debian 12 and later: inside a venv)
numpy
ai-edge-litert; python_version >= "3.9"
tflite-runtime; python_version < "3.9"
soundfile  # classifying sound files
sounddevice  # --listen: the microphone (needs PortAudio: sudo apt-get install libportaudio2)
paho-mqtt  # --push: results to an MQTT broker
"""


def validate_settings(project_dir: Path) -> dict[str, Any]:
    """The project's saved (or calibrated) threshold and smoothing, the defaults of predict.py --listen."""
    from core.project import Project

    saved = Project.open(Path(project_dir)).settings("validate")
    return {k: saved[k] for k in ("threshold", "smooth_windows")
            if isinstance(saved.get(k), int | float) and not isinstance(saved.get(k), bool)}


EAR_CREDITS = {
    "speech": "`melspectrogram.tflite`, `embedding_model.tflite`: Google's speech_embedding (TFHub "
              "google/speech_embedding/1, Apache-2.0; Lin et al., arXiv:2002.01322) as converted by "
              "openWakeWord (https://github.com/dscripka/openWakeWord, Apache-2.0 code).",
    "music": "`musicnn_msd.tflite`: musicnn's MSD model (Pons and Serra, "
             "https://github.com/jordipons/musicnn, ISC licence), converted to TFLite by earshot.",
}


def readme(labels: list[str], metadata: dict[str, Any]) -> str:
    template = (TEMPLATES / "export_readme.md.txt").read_text()
    accuracy = metadata["accuracy"]

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    kind = str(metadata.get("model", {}).get("kind", SMALL))
    if kind == SMALL:
        model_line, ear_rows, credits = "Model: the small CNN on log-mel (the one `predict.py` runs).", "", ""
    else:
        model_line = (f"Model: the pretrained {kind} ear with a trained head, "
                      f"{percent(accuracy.get(kind))} on the test split (what `predict.py` runs by default).")
        ear_rows = ("| `head.npz` | the trained head (numpy arrays) on the ears' embeddings |\n"
                    "| `*.tflite` beside it | the pretrained ears' weights (see Credits) |\n")
        credits = ("\n## Credits\n\n" + "\n".join(
            f"- {EAR_CREDITS[name]}" for name in kind.split("+") if name in EAR_CREDITS) + "\n")
    values = {
        "model_line": model_line, "ear_rows": ear_rows, "credits": credits,
        "project": str(metadata.get("project", "")), "labels": ", ".join(labels),
        "sample_rate": str(metadata["sample_rate"]), "clip_seconds": f"{metadata['clip_seconds']:g}",
        "float_accuracy": percent(accuracy["float32"]), "int8_accuracy": percent(accuracy["int8"]),
        "test_clips": str(accuracy["test_clips"]), "created": metadata["created"],
    }
    return re.sub(r"@(\w+)@", lambda m: values.get(m.group(1), m.group(0)), template)


def export_project(project_dir: Path, output: Path | None = None, *,
                   on_status: Callable[[str], None] | None = None,
                   cancel: threading.Event | None = None) -> ExportResult:
    """Write the export zip of the project's latest model (default `<project>/<name>-model.zip`).

    A project whose model is a pretrained ear (speech, music) gets the small CNN trained here too, for
    microcontrollers: the zip then holds both, and the accuracies of both on the test split.
    """
    status = on_status or (lambda _message: None)
    started = time.perf_counter()
    folder = model_folder(project_dir)
    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        labels = [x for x in (folder / "labels.txt").read_text(encoding="utf-8").splitlines() if x]
        modelstore.check_metadata(metadata, str(folder))
        audio, kind = AudioSpec.from_dict(metadata["audio"]), model_kind(metadata)
        features = FeatureSpec.from_dict(metadata["features"]) if kind == SMALL else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeployError(f"{folder}: the trained model's metadata is damaged ({exc})",
                          f"train again: earshot train {project_dir}") from exc
    default_name = f"{_slug(metadata.get('project', 'earshot'))}-model.zip"
    output = Path(output) if output else Path(project_dir) / default_name

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise DeployError("export cancelled", "nothing was written")

    from core.model import configure_tensorflow, keras_bytes, quiet_output, tflite_bytes
    from core.project import Project

    project = Project.open(Path(project_dir))
    configure_tensorflow()
    import keras

    big_files: dict[str, bytes] = {}
    if kind == SMALL:
        status("loading the Keras model")
        with quiet_output():
            model = keras.models.load_model(folder / "model.keras", compile=False)
        keras_file = (folder / "model.keras").read_bytes()
        float_model = (folder / "model.tflite").read_bytes() if (folder / "model.tflite").is_file() \
            else tflite_bytes(model)
    else:
        _check_same_classes(labels, [info.name for info in project.classes], project_dir)
        big_files = _ear_files(folder, kind, project_dir)
        spec = TrainSpec.from_dict({**metadata.get("train", {}), "model": SMALL})
        status(f"the model is {kind}; a microcontroller takes only the small model: training it too "
               f"({spec.epochs} epochs)")
        from core.train import TrainingCancelled, fit_small

        try:
            small_result, model, small_metadata = fit_small(project, spec, cancel=cancel, status=status)
        except TrainingCancelled:
            raise DeployError("export cancelled", "nothing was written") from None
        _check_same_classes(labels, list(small_metadata["labels"]), project_dir)
        features = FeatureSpec.from_dict(small_metadata["features"])
        keras_file, float_model = keras_bytes(model), tflite_bytes(model)
    assert features is not None
    check_cancel()
    status("computing features of the project's clips")
    train_paths, train_targets, test_paths, test_targets = _clip_paths(Path(project_dir), metadata)
    train_x = _log_mel(train_paths, audio, features, project.cache_dir)
    test_x = _log_mel(test_paths, audio, features, project.cache_dir)
    if not len(train_x):
        raise DeployError(f"{project_dir} has no training clips to calibrate the int8 model",
                          "record or import samples, train, then export")
    status("converting to int8 (calibrating on the project's clips)")
    int8_model = tflite_bytes(model, representative=_calibration(train_x, train_targets, CALIBRATION_CLIPS))
    check_cancel()
    status("scoring each model on the test split")
    keras_accuracy = float("nan")
    if len(test_x):
        keras_scores = model.predict(test_x[..., None], verbose=0, batch_size=64)
        keras_accuracy = float(np.mean(np.argmax(keras_scores, axis=1) == np.asarray(test_targets)))
    accuracy: dict[str, Any] = {"keras": keras_accuracy,
                                "float32": tflite_accuracy(float_model, test_x, test_targets),
                                "int8": tflite_accuracy(int8_model, test_x, test_targets),
                                "test_clips": len(test_x)}
    if kind != SMALL:
        accuracy[kind] = _bundle_accuracy(folder, test_paths, test_targets, audio)
    quant = quantization(int8_model)
    exported = _export_metadata(metadata, labels, audio, features, quant, accuracy, len(train_x))
    exported["validate"] = validate_settings(Path(project_dir))
    exported["push_topic"] = default_topic(project.name)  # predict.py --push mqtt://HOST, as listen --push
    header, source = c_array(int8_model, labels, quant, features)
    files: dict[str, bytes] = {
        **big_files,
        "model.keras": keras_file,
        "model.tflite": float_model,
        "model_int8.tflite": int8_model,
        "labels.txt": ("\n".join(labels) + "\n").encode(),
        "metadata.json": (json.dumps(exported, indent=2, ensure_ascii=False) + "\n").encode(),
        "model_int8.h": header.encode(),
        "model_int8.cc": source.encode(),
        "predict.py": predict_script("model_int8.tflite" if kind == SMALL else "").encode(),
        "requirements.txt": REQUIREMENTS.encode(),
        "README.md": readme(labels, exported).encode(),
        **runtime_files(),
    }
    check_cancel()
    status(f"writing {output}")
    _write_zip(output, files)
    return ExportResult(output, labels, {k: v for k, v in accuracy.items() if k != "test_clips"},
                        {name: len(data) for name, data in files.items()}, len(test_x),
                        time.perf_counter() - started, kind)


def _ear_files(folder: Path, kind: str, project_dir: Path) -> dict[str, bytes]:
    """head.npz and the ears' weight files, for a self-contained zip."""
    from core.ears import EarError, weight_files

    files = {HEAD_FILE: (folder / HEAD_FILE).read_bytes()}
    for name in model_ears({"model": {"kind": kind}}):
        try:
            files.update(weight_files(name))
        except EarError as error:
            raise DeployError(error.message, error.hint) from error
    return files


def _bundle_accuracy(folder: Path, paths: list[Path], targets: list[int], audio: AudioSpec) -> float:
    """Accuracy of the project's own (embedding) model on the test clips, run by the runtime."""
    from core.audio import load
    from core.classifier import load_classifier
    from core.runtime.audio import fit_clip

    if not paths:
        return float("nan")
    classifier = load_classifier(folder)
    clips = np.stack([fit_clip(load(p, audio.sample_rate), audio.clip_samples) for p in paths])
    return float(np.mean(classifier.scores_batch(clips).argmax(axis=1) == np.asarray(targets)))


def _check_same_classes(trained: list[str], current: list[str], project_dir: Path) -> None:
    """The small CNN trained at export time learns the project's classes now: they must be the model's."""
    if current != trained:
        raise DeployError(f"the classes changed since the model was trained (model: {', '.join(trained)}; "
                          f"project: {', '.join(current)})", f"train again: earshot train {project_dir}")


def _export_metadata(metadata: dict[str, Any], labels: list[str], audio: AudioSpec, features: FeatureSpec,
                     quant: dict[str, Any], accuracy: dict[str, Any], calibration: int) -> dict[str, Any]:
    """metadata.json of the zip: what a user of the model needs, without the training history."""
    def finite(value: float) -> float | None:
        return None if value != value else round(value, 4)

    return {
        "project": metadata.get("project", ""),
        "labels": labels,
        "sample_rate": audio.sample_rate,
        "clip_seconds": audio.clip_seconds,
        "audio": audio.to_dict(),
        "features": features.to_dict(),
        "input_shape": list(features.input_shape),
        "derived": {"n_fft": features.n_fft, "win_length": features.win_length,
                    "hop_length": features.hop_length, "n_frames": features.n_frames},
        "int8": quant,
        "accuracy": {"keras": finite(accuracy["keras"]), "float32": finite(accuracy["float32"]),
                     "int8": finite(accuracy["int8"]), "test_clips": accuracy["test_clips"],
                     "calibration_clips": min(calibration, CALIBRATION_CLIPS),
                     **{k: finite(v) for k, v in accuracy.items() if "+" in k or k in ("speech", "music")}},
        "model": {**metadata.get("model", {"kind": SMALL}),
                  "small": "model.tflite, model_int8.tflite: the small CNN (log-mel), for microcontrollers"},
        "train": metadata.get("train", {}),
        "metrics": {k: v for k, v in metadata.get("metrics", {}).items() if k != "per_class"},
        "confusion": metadata.get("confusion"),
        "trained": metadata.get("created"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "version": __version__,
        "earshot_version": __version__,
    }


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-") or "earshot"


def _write_zip(output: Path, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name == "predict.py" else 0o644) << 16
            archive.writestr(info, data)
    atomic.write_bytes(output, buffer.getvalue())
