"""The log-mel front end: pinned to librosa, shape-checked, batch-independent, free of numba."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.features import fit_clip, log_mel, log_mel_batch, mel_filterbank, mel_power_batch
from core.spec import AudioSpec, FeatureSpec
from tests.conftest import REPO


def test_mel_power_matches_librosa(rng: np.random.Generator) -> None:
    import librosa

    spec = FeatureSpec()
    t = np.arange(spec.clip_samples) / spec.sample_rate
    y = np.stack([0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size),
                  0.1 * rng.standard_normal(t.size)]).astype(np.float32)
    ours = mel_power_batch(y, spec)
    ref = librosa.feature.melspectrogram(y=y, sr=spec.sample_rate, n_fft=spec.n_fft,
                                         hop_length=spec.hop_length, win_length=spec.win_length,
                                         center=False, power=2.0, n_mels=spec.n_mels, fmin=spec.fmin,
                                         fmax=spec.fmax)
    ref = np.swapaxes(ref, 1, 2)
    assert ours.shape == ref.shape == (2, spec.n_frames, spec.n_mels)
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-6 * ref.max())


def test_filterbank_matches_librosa_at_8k() -> None:
    import librosa

    spec = FeatureSpec.for_audio(AudioSpec(sample_rate=8000))
    ref = librosa.filters.mel(sr=8000, n_fft=spec.n_fft, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
    np.testing.assert_allclose(mel_filterbank(8000, spec.n_fft, spec.n_mels, spec.fmin, spec.fmax), ref,
                               rtol=1e-4, atol=1e-7)


def test_tone_lands_in_its_band_and_silence_is_flat() -> None:
    spec = FeatureSpec()
    t = np.arange(spec.clip_samples) / spec.sample_rate
    features = log_mel(0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32), spec)
    assert features.shape == (97, 40) and features.dtype == np.float32
    peak_band = int(features.mean(axis=0).argmax())
    filters = mel_filterbank(16000, spec.n_fft, spec.n_mels, spec.fmin, spec.fmax)
    centres = filters.argmax(axis=1) * 16000 / spec.n_fft
    assert abs(centres[peak_band] - 1000) < 120
    # golden value (librosa gives the same): a steady tone is flat over time at 16.62 dB in its band
    assert features[:, peak_band] == pytest.approx(16.618, abs=0.01)
    half_silent = log_mel(np.where(t < 0.5, 0.5 * np.sin(2 * np.pi * 1000 * t), 0).astype(np.float32), spec)
    floor = max(10 * np.log10(spec.log_floor), half_silent.max() - spec.top_db)
    assert half_silent.min() == pytest.approx(floor, abs=0.01)
    assert (half_silent[-10:] == half_silent.min()).all()
    silent = log_mel(np.zeros(spec.clip_samples, np.float32), spec)
    assert np.all(silent == pytest.approx(10 * np.log10(spec.log_floor)))


def test_batch_matches_single_clips_across_chunks(rng: np.random.Generator) -> None:
    spec = FeatureSpec()
    clips = (0.1 * rng.standard_normal((70, spec.clip_samples))).astype(np.float32)
    batch = log_mel_batch(clips, spec)
    for i in (0, 63, 64, 69):
        np.testing.assert_allclose(batch[i], log_mel(clips[i], spec), rtol=1e-5, atol=1e-4)


def test_wrong_shapes_raise_clear_errors() -> None:
    spec = FeatureSpec()
    with pytest.raises(ValueError, match=r"expected audio clips of shape \[n, 16000\]"):
        log_mel_batch(np.zeros((2, 8000), np.float32), spec)
    with pytest.raises(ValueError, match="one mono clip"):
        log_mel(np.zeros((2, 16000), np.float32), spec)


def test_fit_clip_pads_and_crops_around_the_centre() -> None:
    short = fit_clip(np.ones(4, np.float32), 10)
    assert short.tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert fit_clip(np.arange(10, dtype=np.float32), 4).tolist() == [3, 4, 5, 6]


def test_features_need_neither_librosa_nor_numba() -> None:
    code = ("import numpy as np, json, sys\nfrom core.features import log_mel\n"
            "from core.spec import FeatureSpec\n"
            "log_mel(np.zeros(16000, np.float32), FeatureSpec())\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
