"""Load, resample and save audio. Everything inside earshot is mono float32 in [-1, 1]."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from core import atomic
from core.errors import AudioError

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au"})
MAX_SECONDS = 30 * 60.0


def is_audio_name(name: str) -> bool:
    """True for file names whose suffix earshot tries to read as audio."""
    return Path(name).suffix.lower() in AUDIO_SUFFIXES


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample mono `y: float32 [n]` from `orig_sr` to `target_sr` with the runtime's band-limited
    resampler, the one exported predictors and boards use, so every path hears the same audio."""
    if orig_sr == target_sr:
        return y.astype(np.float32, copy=False)
    from core.runtime.audio import resample as runtime_resample

    return runtime_resample(y, orig_sr, target_sr)


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels: `[n] | [n, channels]` to `float32 [n]`."""
    if data.ndim == 2:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def _decode_with_ffmpeg(data: bytes, name: str) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{name}: cannot decode this format", "install ffmpeg, or convert it to WAV")
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", "pipe:0", "-f", "wav", "-acodec", "pcm_f32le", "pipe:1"],
        input=data,
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0 or not result.stdout:
        raise AudioError(f"{name}: not an audio file earshot can read", "use WAV, FLAC, OGG or MP3")
    import soundfile

    decoded, sr = soundfile.read(io.BytesIO(result.stdout), dtype="float32", always_2d=False)
    return decoded, int(sr)


def wav_truncation(data: bytes) -> tuple[int, int] | None:
    """(bytes present, bytes declared) of a RIFF/WAVE data chunk cut short, else None."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if chunk == b"data":
            present = len(data) - offset - 8
            # streamed WAVs (espeak-ng, pipes, killed recorders) carry a placeholder size, not a real one
            streaming = size == 0 or size >= 0x7FFF0000
            return (present, size) if present < size and not streaming else None
        offset += 8 + size + (size & 1)
    return None


def _reason(exc: Exception) -> str:
    return re.sub(r"Error opening <[^>]*>: ", "", str(exc)).strip() or type(exc).__name__


def decode(data: bytes, name: str, sample_rate: int, *, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Decode audio bytes to mono `float32 [n]` at `sample_rate`; `name` appears in errors."""
    import soundfile

    if not data:
        raise AudioError(f"{name}: the file is empty", "record or choose another file")
    cut = wav_truncation(data)
    if cut is not None:
        raise AudioError(f"{name}: the file is truncated ({cut[0]} of {cut[1]} bytes of audio)",
                         "copy or export it again")
    try:
        info = soundfile.info(io.BytesIO(data))
        if info.frames <= 0:
            raise AudioError(f"{name}: the file holds no audio", "record or choose another file")
        if info.duration > max_seconds:
            raise AudioError(
                f"{name}: {info.duration:.0f} s is too long (at most {max_seconds:.0f} s)",
                "cut it into shorter files first",
            )
        raw, sr = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError
        if Path(name).suffix.lower() in {".mp3", ".m4a", ".aac", ".wma"}:
            raw, sr = _decode_with_ffmpeg(data, name)
        else:
            raise AudioError(f"{name}: not an audio file earshot can read, or damaged ({_reason(exc)})",
                             "use WAV, FLAC, OGG or MP3") from exc
    y = to_mono(np.asarray(raw))
    if y.size == 0:
        raise AudioError(f"{name}: the file holds no audio", "record or choose another file")
    if y.size / sr > max_seconds:
        raise AudioError(f"{name}: too long (at most {max_seconds:.0f} s)", "cut it into shorter files")
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{name}: the audio holds invalid values (NaN or infinity)", "re-export it")
    return resample(y, int(sr), sample_rate)


def load(path: Path, sample_rate: int, *, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Read an audio file to mono `float32 [n]` at `sample_rate`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file", "check the path") from None
    except IsADirectoryError:
        raise AudioError(f"{path}: is a folder, not an audio file", "name a file") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror})") from exc
    return decode(data, str(path), sample_rate, max_seconds=max_seconds)


def to_int16(y: np.ndarray) -> np.ndarray:
    """`float32 [n]` in [-1, 1] to `int16 [n]`: scale by 32768, round half to even, clip."""
    scaled = np.round(np.asarray(y, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def quantize(y: np.ndarray) -> np.ndarray:
    """The float32 samples `y` becomes after a round trip through a 16-bit WAV file."""
    return (to_int16(y).astype(np.float32) / np.float32(32768.0)).astype(np.float32)


def wav_bytes(y: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono `float32 [n]` as a 16-bit PCM WAV file (exactly `quantize(y)` when read back)."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, to_int16(y), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def save_wav(path: Path, y: np.ndarray, sample_rate: int) -> Path:
    """Write mono `float32 [n]` as 16-bit WAV, atomically."""
    atomic.write_bytes(Path(path), wav_bytes(y, sample_rate))
    return Path(path)

