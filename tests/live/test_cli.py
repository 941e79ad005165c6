"""The live commands without a microphone: record from a file, the meter and the confidence bars."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.audio import load, save_wav
from core.infer import Window
from core.project import Project
from earshot.commands.live import LiveView, bar
from tests.conftest import REPO

SR = 16000


def earshot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "earshot", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def bursts(count: int) -> np.ndarray:
    """`count` 0.3 s tone bursts, each followed by 0.7 s of quiet hiss."""
    rng = np.random.default_rng(3)
    t = np.arange(int(0.3 * SR)) / SR
    burst = 0.4 * np.sin(2 * np.pi * 660 * t) * np.hanning(t.size)
    pieces = [np.concatenate([burst, np.zeros(int(0.7 * SR))]) for _ in range(count)]
    y = np.concatenate(pieces)
    return (y + rng.standard_normal(y.size) * 0.001).astype(np.float32)


def test_bar_has_a_fixed_width_and_eighth_cells() -> None:
    assert bar(0.0, 8) == " " * 8
    assert bar(1.0, 8) == "█" * 8
    assert bar(0.5, 8) == "████    "
    assert bar(1 / 16, 8) == "▌       "
    assert bar(7.0, 4) == "████" and bar(-1.0, 4) == "    "


def test_record_from_a_file_keeps_the_raw_recording_and_extracts_each_sound(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").add_class("beep")
    take = save_wav(tmp_path / "take.wav", bursts(8), SR)
    done = earshot("record", str(tmp_path / "p"), "beep", "--input", str(take), "--speed", "0")
    assert done.returncode == 0, done.stderr
    assert "8 clips" in done.stdout and "events" in done.stdout
    project = Project.open(tmp_path / "p")
    info = project.get_class("beep")
    [raw] = project.recordings(info)
    np.testing.assert_allclose(load(raw, SR), load(take, SR), atol=1 / 32768)
    assert len(project.samples(info)) == 8


def test_record_refuses_bad_requests_with_a_hint(tmp_path: Path) -> None:
    Project.create(tmp_path / "p")
    unknown = earshot("record", str(tmp_path / "p"), "nope", "--input", str(tmp_path / "x.wav"))
    assert unknown.returncode == 1 and "no class named 'nope'" in unknown.stderr
    negative = earshot("record", str(tmp_path / "p"), "Background Noise", "--seconds", "-1")
    assert negative.returncode == 1 and "--seconds" in negative.stderr
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not a sound")
    broken = earshot("record", str(tmp_path / "p"), "Background Noise", "--input", str(not_audio))
    assert broken.returncode == 1 and "not an audio file" in broken.stderr
    assert "Traceback" not in unknown.stderr + negative.stderr + broken.stderr
    missing = earshot("listen", str(tmp_path / "p"), "--input", str(not_audio))
    assert missing.returncode == 1 and "no trained model" in missing.stderr


def window(time: float, scores: list[float], label: str) -> Window:
    smoothed = np.array(scores, dtype=np.float32)
    return Window(time, smoothed, smoothed, label, float(smoothed.max()), None, 0.001)


def test_live_view_redraws_the_bars_in_place() -> None:
    out = io.StringIO()
    view = LiveView(out, ["Background Noise", "yes", "no"])
    view.window(window(1.0, [0.9, 0.05, 0.05], "Background Noise"))
    first = out.getvalue()
    assert first.count("\n") == 4 and "\x1b[4F" not in first
    assert "▶ Background Noise" in first and " 90%" in first
    view.decision(type("D", (), {"label": "yes", "confidence": 0.8, "time": 1.25})())
    view.window(window(1.25, [0.1, 0.8, 0.1], "yes"))
    second = out.getvalue()[len(first):]
    assert second.startswith("\x1b[4F")  # back up over the previous four lines
    assert "▶ yes" in second and "last: yes 80% at 1.25 s" in second
    view.close()
    assert out.getvalue().endswith("last decision: yes 80% at 1.25 s\n")


@pytest.mark.parametrize(("args", "message"), [(["--hop", "0"], "hop"), (["--threshold", "2"], "threshold"),
                                             (["--smooth", "0"], "smoothing"), (["--seconds", "0"], "time")])
def test_listen_refuses_bad_settings(tmp_path: Path, args: list[str], message: str) -> None:
    result = earshot("listen", str(tmp_path), *args)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
