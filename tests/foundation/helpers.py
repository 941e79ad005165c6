"""Synthetic signals with known answers, tiny label/*.wav trees and zip builders for these tests."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import soundfile

SR = 16000


def tone(seconds: float, *, freq: float = 440.0, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def bursts(centres: list[float], *, seconds: float = 20.0, burst: float = 0.3, noise: float = 0.0,
           rng: np.random.Generator | None = None, sr: int = SR) -> np.ndarray:
    """Tone bursts of `burst` seconds centred at `centres`, between silences (or faint noise)."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    if noise:
        assert rng is not None
        y += (rng.standard_normal(y.size) * noise).astype(np.float32)
    b = tone(burst, sr=sr)
    for c in centres:
        start = int(round(c * sr)) - b.size // 2
        y[start : start + b.size] += b
    return y


def write_wav(path: Path, y: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, y, sr, subtype=subtype)
    return path


def wav_tree(root: Path, counts: dict[str, int], rng: np.random.Generator, seconds: float = 1.0) -> Path:
    """root/<label>/<label>-<i>.wav with distinct noise-and-tone clips."""
    for label, n in counts.items():
        for i in range(n):
            noise = rng.standard_normal(int(seconds * SR)) * 0.01
            y = tone(seconds, freq=200 + 50 * i, amplitude=0.3) + noise
            write_wav(root / label / f"{label}-{i}.wav", y.astype(np.float32))
    return root


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` (except the lock file) with a hash of its bytes: 'nothing changed'."""
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*")) if p.name != ".earshot.lock"}
