"""Regenerate the demo recordings in sample_data/ (run: python sample_data/make_demo.py).

Everything is made here, nothing is downloaded: the words are spoken by espeak-ng in several voices,
speeds and pitches, given a little room reverberation and mixed over synthetic room tone (brown and
pink noise, a fan's slowly swelling band noise and mains hum). Each class gets two 15 s "recordings",
as a user would make in the app; `earshot demo` extracts them into clips. Seeds are fixed, so the
same espeak-ng version gives the same files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from core.audio import decode  # noqa: E402

SAMPLE_RATE = 16000
RECORDING_SECONDS = 15.0
RECORDINGS_PER_CLASS = 2
WORDS_PER_RECORDING = 12
WORDS = ("yes", "no", "stop")
VOICES = ("en+m1", "en+m3", "en+m7", "en+f2", "en+f4", "en-us+m2", "en-us+f3", "en-gb-x-rp+m4",
          "en-029+f1", "en-gb-scotland+m5", "en+klatt", "en-us+f5")
SPEEDS = (120, 140, 160, 180)
PITCHES = (30, 45, 60, 75)
MANIFEST = "demo.json"


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power falling as 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS, above 20 Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    shape = np.zeros_like(freqs)
    shape[freqs >= 20] = freqs[freqs >= 20] ** (-exponent / 2)
    y = np.fft.irfft(spectrum * shape, n)
    return y / np.sqrt(np.mean(y**2))


def room_tone(rng: np.random.Generator, seconds: float, level_dbfs: float) -> np.ndarray:
    """A quiet room: brown rumble, pink hiss, a fan that swells slowly, 50 Hz mains hum."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    fan_band = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))
                            * np.exp(-0.5 * ((np.fft.rfftfreq(n, 1 / SAMPLE_RATE) - 400) / 120) ** 2), n)
    fan_band /= np.sqrt(np.mean(fan_band**2))
    swell = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi))
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5))
    y = (0.8 * coloured_noise(rng, n, 2.0) + 0.5 * coloured_noise(rng, n, 1.0)
         + 0.35 * fan_band * swell + 0.08 * hum)
    y /= np.sqrt(np.mean(y**2))
    return (y * 10 ** (level_dbfs / 20)).astype(np.float64)


def reverb(rng: np.random.Generator, y: np.ndarray, rt60: float) -> np.ndarray:
    """Convolve with an exponentially decaying noise tail (a small room), keeping the dry sound."""
    n = int(rt60 * SAMPLE_RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    tail[0] = 0.0
    wet = np.convolve(y, tail * 0.04)[: y.size]
    return y + wet


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """The word spoken by espeak-ng, trimmed of silence, at SAMPLE_RATE, peak 1."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                         check=True, capture_output=True).stdout
    y = decode(wav, f"espeak {voice}", SAMPLE_RATE).astype(np.float64)
    loud = np.flatnonzero(np.abs(y) > 0.02 * np.abs(y).max())
    y = y[loud[0] : loud[-1] + 1]
    return y / np.abs(y).max()


def word_recording(rng: np.random.Generator, word: str, take: int) -> np.ndarray:
    """RECORDING_SECONDS of room tone with the word said WORDS_PER_RECORDING times, evenly spaced."""
    y = room_tone(rng, RECORDING_SECONDS, level_dbfs=rng.uniform(-52, -46))
    slot = RECORDING_SECONDS / (WORDS_PER_RECORDING + 1)
    for i in range(WORDS_PER_RECORDING):
        voice = VOICES[(i + take * 5) % len(VOICES)]
        spoken = speak(word, voice, int(rng.choice(SPEEDS)), int(rng.choice(PITCHES)))
        spoken = reverb(rng, spoken, rt60=rng.uniform(0.15, 0.35)) * 10 ** (rng.uniform(-12, -4) / 20)
        centre = (i + 1) * slot + rng.uniform(-0.1, 0.1)
        start = int(centre * SAMPLE_RATE) - spoken.size // 2
        y[start : start + spoken.size] += spoken
    return y


def save(path: Path, y: np.ndarray) -> None:
    soundfile.write(path, np.clip(y, -1, 1).astype(np.float32), SAMPLE_RATE, subtype="PCM_16", format="FLAC")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: sample_data/)")
    out = parser.parse_args(argv).out
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is missing: apt-get install espeak-ng", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    classes = []
    files = []
    for take in range(RECORDINGS_PER_CLASS):
        name = f"background-noise-{take + 1}.flac"
        save(out / name, room_tone(rng, RECORDING_SECONDS, level_dbfs=-49 + 3 * take))
        files.append(name)
    classes.append({"name": "Background Noise", "mode": "fixed", "recordings": files})
    for word in WORDS:
        files = []
        for take in range(RECORDINGS_PER_CLASS):
            name = f"{word}-{take + 1}.flac"
            save(out / name, word_recording(rng, word, take))
            files.append(name)
        classes.append({"name": word, "mode": "events", "recordings": files})
    manifest = {"version": 1, "sample_rate": SAMPLE_RATE, "made_by": "sample_data/make_demo.py",
                "classes": classes}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum((out / f).stat().st_size for c in classes for f in c["recordings"])
    print(f"wrote {sum(len(c['recordings']) for c in classes)} recordings ({total / 1e6:.1f} MB) to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
