"""A trained model ready to classify audio, run by TensorFlow Lite (`ai_edge_litert`, never TensorFlow).

`load_classifier` accepts a project folder (its `models/latest/`), a model folder, or an exported
model `.zip` holding `model.tflite` and/or `model_int8.tflite`, `labels.txt` and `metadata.json`.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import modelstore
from core.errors import ModelError
from core.features import fit_clip, log_mel_batch
from core.model import quiet_output
from core.spec import AudioSpec, FeatureSpec

MODEL_FILES = ("model.tflite", "model_int8.tflite")


@dataclass(frozen=True)
class WindowScore:
    """One window of a long file: where it starts, its label and confidence, and every score."""

    start: float
    label: str
    confidence: float
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "label": self.label, "confidence": self.confidence,
                "scores": self.scores}


@dataclass(frozen=True)
class Prediction:
    """The verdict on one piece of audio; for audio longer than a clip, `label` is the windows' vote."""

    label: str
    confidence: float
    scores: dict[str, float]
    windows: list[WindowScore]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "confidence": self.confidence, "scores": self.scores}
        if len(self.windows) > 1:
            data["windows"] = [w.to_dict() for w in self.windows]
        return data


class Classifier:
    """Scores clips with a TFLite model. `scores(clip)` -> `float32 [n_labels]` probabilities."""

    def __init__(self, model: bytes, labels: list[str], metadata: dict[str, Any], source: str) -> None:
        from ai_edge_litert.interpreter import Interpreter

        modelstore.check_metadata(metadata, source)
        self.labels = labels
        self.metadata = metadata
        self.source = source
        self.audio = AudioSpec.from_dict(metadata["audio"])
        self.features = FeatureSpec.from_dict(metadata["features"])
        try:
            with quiet_output():
                self._interpreter = Interpreter(model_content=model, num_threads=1)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{source}: the TFLite model cannot be loaded ({exc})", "train again") from exc
        self._first_run = True
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        expected = tuple(self.features.input_shape)
        got = tuple(int(d) for d in self._input["shape"][1:])
        if got != expected or int(self._output["shape"][-1]) != len(labels):
            raise ModelError(f"{source}: the model's shape does not match its metadata", "train again")

    def scores(self, clip: np.ndarray) -> np.ndarray:
        """Probabilities for one clip `float32 [clip_samples]`: `float32 [n_labels]`."""
        return self.scores_batch(np.asarray(clip, dtype=np.float32)[None, :])[0]

    def scores_batch(self, clips: np.ndarray) -> np.ndarray:
        """Probabilities for clips `float32 [n, clip_samples]`: `float32 [n, n_labels]`."""
        features = log_mel_batch(np.asarray(clips, dtype=np.float32), self.features)
        if not len(features):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.stack([self._run(f) for f in features])

    def _run(self, features: np.ndarray) -> np.ndarray:
        x = features.reshape((1, *self.features.input_shape))
        scale, zero = self._input.get("quantization", (0.0, 0))
        if self._input["dtype"] != np.float32:
            info = np.iinfo(self._input["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        self._interpreter.set_tensor(self._input["index"], x.astype(self._input["dtype"]))
        if self._first_run:
            with quiet_output():  # the first run prints a delegate banner on stderr
                self._interpreter.invoke()
            self._first_run = False
        else:
            self._interpreter.invoke()
        out = self._interpreter.get_tensor(self._output["index"])[0]
        scale, zero = self._output.get("quantization", (0.0, 0))
        if self._output["dtype"] != np.float32:
            out = (out.astype(np.float32) - zero) * scale
        return np.asarray(out, dtype=np.float32)

    def _named(self, scores: np.ndarray) -> dict[str, float]:
        return {label: round(float(s), 4) for label, s in zip(self.labels, scores, strict=True)}

    def predict(self, y: np.ndarray) -> Prediction:
        """Classify mono audio `float32 [n]` at the model's rate; longer audio window by window, then vote."""
        y = np.asarray(y, dtype=np.float32)
        size = self.audio.clip_samples
        if y.size <= size * 1.5:
            scores = self.scores(fit_clip(y, size))
            best = int(scores.argmax())
            return Prediction(self.labels[best], float(scores[best]), self._named(scores), [])
        starts = list(range(0, y.size - size + 1, size))
        if y.size - (starts[-1] + size) >= size // 2:
            starts.append(y.size - size)
        all_scores = self.scores_batch(np.stack([y[s:s + size] for s in starts]))
        windows = [WindowScore(s / self.audio.sample_rate, self.labels[int(sc.argmax())], float(sc.max()),
                               self._named(sc)) for s, sc in zip(starts, all_scores, strict=True)]
        label = vote([w.label for w in windows], all_scores, self.labels)
        mean = all_scores.mean(axis=0)
        share = sum(w.label == label for w in windows) / len(windows)
        return Prediction(label, round(share, 4), self._named(mean), windows)


def vote(window_labels: list[str], scores: np.ndarray, labels: list[str]) -> str:
    """Majority label of the windows; ties go to the higher mean score."""
    counts = Counter(window_labels)
    top = max(counts.values())
    tied = [label for label, n in counts.items() if n == top]
    mean = scores.mean(axis=0)
    return max(tied, key=lambda label: float(mean[labels.index(label)]))


def _from_folder(folder: Path) -> Classifier:
    for name in MODEL_FILES:
        if (folder / name).is_file():
            try:
                metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
                labels = (folder / "labels.txt").read_text(encoding="utf-8").splitlines()
            except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise ModelError(f"{folder}: labels.txt or metadata.json is missing or damaged",
                                 "train again") from exc
            return Classifier((folder / name).read_bytes(), [x for x in labels if x], metadata, str(folder))
    raise ModelError(f"{folder}: no trained model (model.tflite) in it", "train one with: earshot train DIR")


def _from_zip(path: Path) -> Classifier:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).name: n for n in archive.namelist()}
            model_name = next((names[n] for n in MODEL_FILES if n in names), None)
            if model_name is None or "labels.txt" not in names or "metadata.json" not in names:
                raise ModelError(f"{path}: not an earshot model zip (needs model.tflite, labels.txt, "
                                 "metadata.json)", "export one with: earshot export DIR")
            model = archive.read(model_name)
            labels = archive.read(names["labels.txt"]).decode("utf-8").splitlines()
            metadata = json.loads(archive.read(names["metadata.json"]).decode("utf-8"))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: a damaged model zip ({exc})", "export the model again") from exc
    return Classifier(model, [x for x in labels if x], metadata, str(path))


def load_classifier(path: Path | str) -> Classifier:
    """Load a classifier from a project folder, a model folder or an exported model zip."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return _from_zip(path)
    if not path.exists():
        raise ModelError(f"{path}: no such project, model folder or zip", "check the path")
    if (path / "project.json").is_file():
        for folder in modelstore.candidates(path / "models"):
            if (folder / "metadata.json").is_file():
                return _from_folder(folder)
        raise ModelError(f"{path}: the project has no trained model", f"train it with: earshot train {path}")
    if path.is_dir():
        return _from_folder(path)
    raise ModelError(f"{path}: not a project, model folder or model zip", "name a project folder or a .zip")
