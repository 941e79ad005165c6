"""The `speech` ear: Google's speech_embedding (Apache-2.0), as the two TFLite files openWakeWord ships.

Pipeline (openWakeWord's `AudioFeatures`): 16 kHz audio at int16 scale into `melspectrogram.tflite`
(input resized to `[1, samples]`, one clip per call), `x / 10 + 2` on its 32-band output, 76-frame
windows with a step of 8 into `embedding_model.tflite`, 96 values per window. Each clip is padded with
0.25 s of silence on both sides (a 1 s clip gives 9 windows) and the windows are averaged: 96 values.
(Measured on bench/accuracy.py's splits with the same head: mean pooling 0.976 on speech_commands and
0.966 on fsdd (5 speakers); mean and max side by side 0.959 and 0.963; mean, max and std 0.965 and
0.965.)
Python 3.7 syntax, numpy and a TFLite interpreter only; copied verbatim into bundles.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from .audio import resample
from .tflite import TFLiteModel

NAME = "speech"
VERSION = 2  # 2: mean pooling only
SAMPLE_RATE = 16000
FILES = ("melspectrogram.tflite", "embedding_model.tflite")
DIMENSIONS = 96
PAD_SECONDS = 0.25
WINDOW_FRAMES = 76
WINDOW_STEP = 8
BATCH = 32  # clips per interpreter call: bounds memory, amortises resizing
INSTALL_HINT = "install the speech weights: pip install --no-deps openwakeword==0.5.1"


def installed_files() -> Dict[str, str]:
    """Paths of FILES inside the installed openwakeword wheel (found without importing it), or {}.
    With EARSHOT_EARS_DIR set, only that folder is searched."""
    import importlib.util

    if os.environ.get("EARSHOT_EARS_DIR"):
        folder = os.environ["EARSHOT_EARS_DIR"]
        paths = {name: os.path.join(folder, name) for name in FILES}
        return {name: path for name, path in paths.items() if os.path.isfile(path)}
    try:
        spec = importlib.util.find_spec("openwakeword")
    except (ImportError, ValueError):
        return {}
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = os.path.join(list(spec.submodule_search_locations)[0], "resources", "models")
    return {name: os.path.join(folder, name) for name in FILES if os.path.isfile(os.path.join(folder, name))}


class SpeechEar:
    """`embed(clips)`: `float32 [n, samples]` in [-1, 1] at `sample_rate` -> `float32 [n, 96]`."""

    name = NAME
    version = VERSION
    dimensions = DIMENSIONS

    def __init__(self, files: Dict[str, bytes], sample_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = int(sample_rate)
        self._mel = TFLiteModel(content=files["melspectrogram.tflite"], input_shape=(1, SAMPLE_RATE))
        self._embedding = TFLiteModel(content=files["embedding_model.tflite"])
        self._shapes: tuple = (None, None)

    def embed(self, clips: np.ndarray) -> np.ndarray:
        """Pooled embeddings of clips `float32 [n, samples]`: `float32 [n, 96]` (mean of the windows)."""
        clips = np.asarray(clips, dtype=np.float32)
        if clips.ndim != 2:
            raise ValueError("expected clips of shape [n, samples], got {}".format(list(clips.shape)))
        out = np.zeros((len(clips), DIMENSIONS), dtype=np.float32)
        for first in range(0, len(clips), BATCH):
            out[first:first + BATCH] = self._embed_batch(clips[first:first + BATCH])
        return out

    def _embed_batch(self, clips: np.ndarray) -> np.ndarray:
        if self.sample_rate != SAMPLE_RATE:
            clips = np.stack([resample(c, self.sample_rate, SAMPLE_RATE) for c in clips])
        pad = np.zeros((len(clips), int(PAD_SECONDS * SAMPLE_RATE)), dtype=np.float32)
        audio = np.concatenate([pad, clips, pad], axis=1) * 32767.0
        # One clip per call: the mel model clips its decibels against the maximum of the whole input
        # tensor, so clips batched together would change each other's features.
        mel = np.concatenate([self._mel.run(a[None], resize=True)[:, 0] for a in audio]) / 10.0 + 2.0
        if mel.shape[1] < WINDOW_FRAMES:
            mel = np.concatenate([mel, np.full((len(mel), WINDOW_FRAMES - mel.shape[1], mel.shape[2]),
                                               mel.min(), np.float32)], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(mel, WINDOW_FRAMES, axis=1)[:, ::WINDOW_STEP]
        n, per_clip = windows.shape[0], windows.shape[1]
        batch = np.ascontiguousarray(np.swapaxes(windows, 2, 3)).reshape(n * per_clip, WINDOW_FRAMES, -1, 1)
        vectors = self._embedding.run(batch, resize=True).reshape(n, per_clip, -1)
        return vectors.mean(axis=1)


def open_ear(files: Dict[str, bytes], sample_rate: int, settings: Optional[dict] = None) -> SpeechEar:
    return SpeechEar(files, sample_rate)
