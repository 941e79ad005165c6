"""A trained model ready to classify audio, run by the dependency-free runtime (`core.runtime`), never
TensorFlow.

`load_classifier` accepts a project folder (its `models/latest/`), a model folder, or an exported
model `.zip`. Every model kind works the same way: the small CNN (`model.tflite` / `model_int8.tflite`
on log-mel) and the pretrained ears with their trained head (`head.npz` and the ears' weight files,
taken from the installed packages when the folder does not hold them).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import modelstore
from core.errors import ModelError
from core.runtime.audio import vote
from core.runtime.bundle import MODEL_FILES, Bundle, BundleError
from core.spec import AudioSpec

__all__ = ["MODEL_FILES", "Classifier", "Prediction", "WindowScore", "load_classifier", "vote"]


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


def _model_error(error: BundleError) -> ModelError:
    return ModelError(error.message, error.hint or "train again")


class Classifier:
    """Scores clips with a trained model. `scores(clip)` -> `float32 [n_labels]` probabilities.

    `Classifier(model_bytes, labels, metadata, source)` wraps a small-CNN TFLite model given as bytes;
    `Classifier.from_bundle` any loaded runtime bundle.
    """

    def __init__(self, model: bytes | None, labels: list[str], metadata: dict[str, Any], source: str,
                 *, bundle: Bundle | None = None) -> None:
        if bundle is None:
            modelstore.check_metadata({**metadata, "model": {"kind": "small"}}, source)
            small = {**metadata, "labels": labels, "model": {"kind": "small"}}  # the bytes are a CNN
            files = {"metadata.json": json.dumps(small).encode(),
                     "labels.txt": "\n".join(labels).encode(), "model.tflite": model}
            try:
                bundle = Bundle(files.get, source)
            except BundleError as error:
                raise _model_error(error) from error
        self.bundle = bundle
        self.labels = list(bundle.labels)
        self.metadata = bundle.metadata
        self.source = source
        self.kind = bundle.kind
        try:
            self.audio = AudioSpec.from_dict(self.metadata["audio"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{source}: metadata.json has no valid audio settings", "train again") from exc
        self.features = getattr(bundle, "features", None)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> Classifier:
        return cls(None, bundle.labels, bundle.metadata, bundle.source, bundle=bundle)

    def scores(self, clip: np.ndarray) -> np.ndarray:
        """Probabilities for one clip `float32 [clip_samples]`: `float32 [n_labels]`."""
        return self.scores_batch(np.asarray(clip, dtype=np.float32)[None, :])[0]

    def scores_batch(self, clips: np.ndarray) -> np.ndarray:
        """Probabilities for clips `float32 [n, clip_samples]`: `float32 [n, n_labels]`."""
        return self.bundle.scores_batch(np.asarray(clips, dtype=np.float32))

    def predict(self, y: np.ndarray) -> Prediction:
        """Classify mono audio `float32 [n]` at the model's rate; longer audio window by window, then vote."""
        result = self.bundle.predict(np.asarray(y, dtype=np.float32))
        windows = [WindowScore(w["start"], w["label"], w["confidence"], w["scores"])
                   for w in result.get("windows", [])]
        return Prediction(result["label"], result["confidence"], result["scores"], windows)


def _load(read: Callable[[str], bytes | None], source: str) -> Classifier:
    try:
        modelstore.check_metadata(json.loads((read("metadata.json") or b"").decode("utf-8")), source)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelError(f"{source}: labels.txt or metadata.json is missing or damaged",
                         "train again") from exc
    try:
        return Classifier.from_bundle(Bundle(read, source))
    except BundleError as error:
        raise _model_error(error) from error


def _from_folder(folder: Path) -> Classifier:
    if not any((folder / name).is_file() for name in (*MODEL_FILES, "head.npz")):
        raise ModelError(f"{folder}: no trained model in it", "train one with: earshot train DIR")

    def read(name: str) -> bytes | None:
        path = folder / name
        return path.read_bytes() if path.is_file() else None

    return _load(read, str(folder))


def _from_zip(path: Path) -> Classifier:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).name: n for n in archive.namelist()}
            if not any(n in names for n in (*MODEL_FILES, "head.npz")) or "labels.txt" not in names \
                    or "metadata.json" not in names:
                raise ModelError(f"{path}: not an earshot model zip (needs a model, labels.txt, "
                                 "metadata.json)", "export one with: earshot export DIR")
            contents = {name: archive.read(full) for name, full in names.items()
                        if not name.endswith((".py", ".md", ".h", ".cc", ".keras"))}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{path}: a damaged model zip ({exc})", "export the model again") from exc
    return _load(contents.get, str(path))


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
