"""Audio in and out: any rate, channel count and sample format to mono float32 at the project rate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from core.audio import decode, load, quantize, save_wav, wav_bytes
from core.errors import AudioError
from tests.foundation.helpers import SR, tone, write_wav


@pytest.mark.parametrize(("subtype", "fmt"), [("PCM_U8", "WAV"), ("PCM_16", "WAV"), ("PCM_24", "WAV"),
                                              ("PCM_32", "WAV"), ("FLOAT", "WAV"), ("PCM_16", "FLAC"),
                                              ("VORBIS", "OGG")])
def test_formats_and_rates_become_mono_at_the_project_rate(tmp_path: Path, subtype: str, fmt: str) -> None:
    sr = 44100
    stereo = np.stack([tone(1.5, sr=sr, amplitude=0.4), tone(1.5, sr=sr, amplitude=0.2)], axis=1)
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(path, stereo, sr, subtype=subtype, format=fmt)
    y = load(path, SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - int(1.5 * SR)) <= 2
    # the mono mix of a 0.4 and a 0.2 sine is a 0.3 sine (RMS 0.212)
    assert np.sqrt(np.mean(y[2000:-2000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


def test_mp3_is_decoded(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "x.wav", tone(2.0, amplitude=0.3))
    mp3 = tmp_path / "x.mp3"
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    y = load(mp3, SR)
    assert abs(y.size / SR - 2.0) < 0.1
    assert np.sqrt(np.mean(y[4000:-4000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)


def test_fsdd_8khz_clip_is_resampled(dataset_files) -> None:
    f = next(f for f in dataset_files if f.dataset == "fsdd")
    raw, sr = soundfile.read(f.path)
    assert sr == 8000
    y = load(f.path, SR)
    assert abs(y.size - 2 * raw.size) <= 2


@pytest.mark.parametrize(("content", "message"), [(b"", "empty"),
                                                  (b"this is a text file\n" * 20, "not an audio"),
                                                  (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not an audio")])
def test_bad_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as info:
        load(path, SR)
    assert "bad.wav" in info.value.message


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_truncated_files_are_a_clear_error(tmp_path: Path, fmt: str, subtype: str) -> None:
    path = tmp_path / f"cut.{fmt.lower()}"
    soundfile.write(path, tone(2.0), SR, format=fmt, subtype=subtype)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated|damaged") as info:
        load(path, SR)
    assert info.value.message.startswith(str(path))


@pytest.mark.parametrize("placeholder", [0xFFFFFFFF, 0x7FFFF000])
def test_streamed_wav_without_a_final_size_is_read(placeholder: int) -> None:
    data = bytearray(wav_bytes(tone(1.0), SR))
    at = data.index(b"data")
    data[at + 4 : at + 8] = placeholder.to_bytes(4, "little")  # what pipes and espeak-ng --stdout write
    assert decode(bytes(data), "stream.wav", SR).size == SR


def test_espeak_output_is_read(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    data = subprocess.run(["espeak-ng", "--stdout", "yes"], check=True, capture_output=True).stdout
    assert 0.2 * SR < decode(data, "espeak", SR).size < 2 * SR


def test_absurdly_long_input_is_refused(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", np.zeros(8000 * 5, np.float32), sr=8000)
    with pytest.raises(AudioError, match="too long"):
        load(path, SR, max_seconds=4.0)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        load(tmp_path / "nope.wav", SR)
    with pytest.raises(AudioError, match="folder"):
        load(tmp_path, SR)


def test_16_bit_round_trip_is_exact(rng: np.random.Generator, tmp_path: Path) -> None:
    y = rng.uniform(-1.2, 1.2, 50000).astype(np.float32)
    back = decode(wav_bytes(y, SR), "x", SR)
    np.testing.assert_array_equal(back, quantize(y))
    assert wav_bytes(back, SR) == wav_bytes(y, SR)
    assert back.min() == -1.0 and back.max() == np.float32(32767 / 32768)
    path = save_wav(tmp_path / "a.wav", y, SR)
    assert path.read_bytes() == wav_bytes(y, SR)
    assert not list(tmp_path.glob(".*.tmp"))
