"""A trained model as a folder (or zip) of files, scored with the runtime alone.

Files: `labels.txt` (one label per line, in output order), `metadata.json` (`audio`: sample rate and
clip length; `model.kind`: "small" or the ears of an embedding model, e.g. "speech", "speech+music"),
and either `model.tflite` / `model_int8.tflite` with `features` (the small CNN on log-mel) or `head.npz`
with the ears' weight files (e.g. `melspectrogram.tflite`, `embedding_model.tflite`). An ear file not
in the bundle is taken from the installed package that ships it. Python 3.7 syntax; copied into bundles.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .audio import cut_clips, vote
from .ears import ear_module
from .head import HEAD_FILE, Head
from .logmel import FeatureSpec, log_mel_batch
from .tflite import TFLiteModel

SMALL = "small"
MODEL_FILES = ("model.tflite", "model_int8.tflite")


class BundleError(Exception):
    """A bundle that cannot be used: `message` says what, `hint` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def model_kind(metadata: Dict[str, Any]) -> str:
    """"small", or the ears joined by "+" ("speech", "music", "speech+music")."""
    return str(metadata.get("model", {}).get("kind", SMALL))


def model_ears(metadata: Dict[str, Any]) -> List[str]:
    kind = model_kind(metadata)
    return [] if kind == SMALL else kind.split("+")


def ear_files(name: str, read: Callable[[str], Optional[bytes]], source: str) -> Dict[str, bytes]:
    """The weight files of ear `name`: from the bundle (`read`), else from the installed package."""
    module = ear_module(name)
    installed = module.installed_files()
    files = {}
    for file_name in module.FILES:
        data = read(file_name)
        if data is None and file_name in installed:
            with open(installed[file_name], "rb") as handle:
                data = handle.read()
        if data is None:
            raise BundleError("{}: the {} model needs {}, which is not installed".format(
                source, name, file_name), module.INSTALL_HINT)
        files[file_name] = data
    return files


class Bundle:
    """A loaded model: `scores_batch(clips float32 [n, clip_samples]) -> float32 [n, n_labels]`."""

    def __init__(self, read: Callable[[str], Optional[bytes]], source: str = "model",
                 model_file: Optional[str] = None) -> None:
        self.source = source
        try:
            self.metadata = json.loads((read("metadata.json") or b"").decode("utf-8"))
            self.labels = [x for x in (read("labels.txt") or b"").decode("utf-8").splitlines() if x]
            audio = self.metadata["audio"]
            self.sample_rate = int(audio["sample_rate"])
            self.clip_samples = int(round(self.sample_rate * float(audio["clip_seconds"])))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError(f"{source}: metadata.json or labels.txt is missing or damaged ({exc})",
                              "train again, or export the model again") from exc
        if not self.labels or self.sample_rate <= 0 or self.clip_samples <= 0:
            raise BundleError("{}: no labels, or a sample rate or clip length of 0".format(source),
                              "train again, or export the model again")
        self.kind = model_kind(self.metadata)
        self.model_file: Optional[str] = None
        self.ears: List[Any] = []
        try:
            if self.kind == SMALL:
                self._load_small(read, model_file)
            else:
                self._load_ears(read)
        except (ValueError, RuntimeError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{source}: the model files cannot be loaded ({exc})",
                              "train again, or export the model again") from exc

    def _load_small(self, read: Callable[[str], Optional[bytes]], model_file: Optional[str]) -> None:
        self.features = FeatureSpec.from_dict(self.metadata["features"])
        for name in ([model_file] if model_file else MODEL_FILES):
            data = read(name)
            if data is not None:
                self.model_file = name
                self.model = TFLiteModel(content=data)
                break
        else:
            wanted = model_file or " or ".join(MODEL_FILES)
            raise BundleError(f"{self.source}: no model file ({wanted})",
                              "train again, or export the model again")
        expected = tuple(self.features.input_shape)
        if self.model.input_shape[1:] != expected or self.model.output_shape[-1] != len(self.labels):
            raise BundleError("{}: the model's shape does not match its metadata".format(self.source),
                              "train again")

    def _load_ears(self, read: Callable[[str], Optional[bytes]]) -> None:
        versions = self.metadata.get("model", {}).get("versions", {})
        for name in model_ears(self.metadata):
            module = ear_module(name)
            if name in versions and int(versions[name]) != module.VERSION:
                raise BundleError("{}: trained with version {} of the {} ear, this is version {}".format(
                    self.source, versions[name], name, module.VERSION), "train again")
            self.ears.append(module.open_ear(ear_files(name, read, self.source), self.sample_rate))
        data = read(HEAD_FILE)
        if data is None:
            raise BundleError("{}: {} is missing".format(self.source, HEAD_FILE), "train again")
        self.model_file = HEAD_FILE
        self.head = Head.from_bytes(data)
        size = sum(ear.dimensions for ear in self.ears)
        if self.head.n_labels != len(self.labels) or self.head.input_size != size:
            raise BundleError("{}: the head does not match its ears and labels".format(self.source),
                              "train again")

    def embed(self, clips: np.ndarray) -> np.ndarray:
        """What the classifier's last stage takes: `float32 [n, d]` embeddings (ears side by side) for an
        embedding model, `float32 [n, frames, mels]` log-mel for the small one."""
        clips = np.asarray(clips, dtype=np.float32)
        if clips.ndim != 2 or clips.shape[1] != self.clip_samples:
            raise ValueError("expected clips of shape [n, {}], got {}".format(self.clip_samples,
                                                                             list(clips.shape)))
        if self.kind == SMALL:
            return log_mel_batch(clips, self.features)
        return np.concatenate([ear.embed(clips) for ear in self.ears], axis=1)

    def scores_from_embedding(self, x: np.ndarray) -> np.ndarray:
        if self.kind == SMALL:
            return self.model.run_each(list(x[..., None]))
        return self.head.scores(x)

    def scores_batch(self, clips: np.ndarray) -> np.ndarray:
        """Probabilities for clips `float32 [n, clip_samples]`: `float32 [n, n_labels]`."""
        if not len(clips):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.scores_from_embedding(self.embed(clips)).astype(np.float32)

    def scores(self, clip: np.ndarray) -> np.ndarray:
        """Probabilities for one clip `float32 [clip_samples]`: `float32 [n_labels]`."""
        return self.scores_batch(np.asarray(clip, dtype=np.float32)[None, :])[0]

    def named(self, scores: Sequence[float]) -> Dict[str, float]:
        return {label: round(float(s), 4) for label, s in zip(self.labels, scores)}

    def predict(self, y: np.ndarray) -> Dict[str, Any]:
        """Classify mono audio `float32 [n]` at the model's rate: {"label", "confidence", "scores"} and,
        for audio longer than 1.5 clips, "windows" (1 clip each, back to back) whose majority is the label
        and whose agreement is the confidence."""
        starts, clips = cut_clips(y, self.clip_samples)
        all_scores = self.scores_batch(clips)
        if len(starts) == 1:
            best = int(all_scores[0].argmax())
            return {"label": self.labels[best], "confidence": round(float(all_scores[0][best]), 4),
                    "scores": self.named(all_scores[0])}
        window_labels = [self.labels[int(s.argmax())] for s in all_scores]
        label = vote(window_labels, all_scores, self.labels)
        share = sum(w == label for w in window_labels) / len(window_labels)
        windows = [{"start": round(s / self.sample_rate, 3), "label": lab,
                    "confidence": round(float(sc.max()), 4), "scores": self.named(sc)}
                   for s, lab, sc in zip(starts, window_labels, all_scores)]
        return {"label": label, "confidence": round(share, 4), "scores": self.named(all_scores.mean(axis=0)),
                "windows": windows}


def folder_reader(folder: str) -> Callable[[str], Optional[bytes]]:
    def read(name: str) -> Optional[bytes]:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            return handle.read()
    return read


def load_bundle(folder: str, model_file: Optional[str] = None) -> Bundle:
    """Load the model in `folder` (a training output, an unpacked export, a board's model folder)."""
    folder = str(folder)
    if not os.path.isfile(os.path.join(folder, "metadata.json")):
        raise BundleError("{}: no metadata.json: not a model folder".format(folder),
                          "name the folder that holds the exported model")
    return Bundle(folder_reader(folder), folder, model_file)
