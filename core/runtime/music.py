"""The `music` ear: musicnn's Million Song Dataset model (Pons & Serra, ISC licence), as a float TFLite.

earshot's install converts the TF1 checkpoint in the `musicnn==0.1.0` wheel once to `musicnn_msd.tflite`
(`python -m core.ears.build_music`); the model takes musicnn's log-mel input (16 kHz, 512-point FFT,
hop 256, 96 Slaney mel bands, `log10(10000 x + 1)`) of any length and returns, per clip, the max and
mean over time of its mid-end feature maps (753 + 753 values). Python 3.7 syntax; copied into bundles.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, Optional

import numpy as np

from .audio import resample
from .logmel import analysis_window, mel_filterbank
from .tflite import TFLiteModel

NAME = "music"
VERSION = 1
SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
FILES = ("musicnn_msd.tflite",)
DIMENSIONS = 1506
INSTALL_HINT = ("install the music weights: pip install --no-deps musicnn==0.1.0 && "
                "python -m core.ears.build_music")


def installed_dir() -> str:
    """Where earshot's install puts converted weights: `<venv>/share/earshot/ears`."""
    return os.environ.get("EARSHOT_EARS_DIR") or os.path.join(sys.prefix, "share", "earshot", "ears")


def installed_files() -> Dict[str, str]:
    paths = {name: os.path.join(installed_dir(), name) for name in FILES}
    return {name: path for name, path in paths.items() if os.path.isfile(path)}


def log_mel(clips: np.ndarray) -> np.ndarray:
    """musicnn's input: `float32 [n, samples]` at 16 kHz -> `float32 [n, 1 + samples // 256, 96]`."""
    clips = np.asarray(clips, dtype=np.float32)
    padded = np.pad(clips, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP]
    window = analysis_window(N_FFT, N_FFT).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=-1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    mel = power.dot(mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2.0).T)
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


class MusicEar:
    """`embed(clips)`: `float32 [n, samples]` in [-1, 1] at `sample_rate` -> `float32 [n, 1506]`."""

    name = NAME
    version = VERSION
    dimensions = DIMENSIONS

    def __init__(self, files: Dict[str, bytes], sample_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = int(sample_rate)
        self._model = TFLiteModel(content=files[FILES[0]], input_shape=(1, 63, N_MELS))

    def embed(self, clips: np.ndarray) -> np.ndarray:
        clips = np.asarray(clips, dtype=np.float32)
        if clips.ndim != 2:
            raise ValueError("expected clips of shape [n, samples], got {}".format(list(clips.shape)))
        if self.sample_rate != SAMPLE_RATE:
            clips = np.stack([resample(c, self.sample_rate, SAMPLE_RATE) for c in clips]) if len(clips) \
                else np.zeros((0, SAMPLE_RATE), np.float32)
        out = np.zeros((len(clips), DIMENSIONS), dtype=np.float32)
        for first in range(0, len(clips), 32):
            out[first:first + 32] = self._model.run(log_mel(clips[first:first + 32]), resize=True)
        return out


def open_ear(files: Dict[str, bytes], sample_rate: int, settings: Optional[dict] = None) -> MusicEar:
    return MusicEar(files, sample_rate)
