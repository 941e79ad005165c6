"""Levels, the file source and the recording session, with sources whose content is known."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from core import capture, microphone
from core.capture import DEAD_MIC_HINT, FLOOR_DB, Level, RecordingProgress, WavFileSource, record
from core.errors import CaptureError
from tests.conftest import REPO

SR = 16000


def sine(seconds: float, amplitude: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_level_of_known_signals() -> None:
    full = Level.of(sine(1.0, amplitude=1.0))
    assert full.peak_db == pytest.approx(0.0, abs=0.01)
    assert full.rms_db == pytest.approx(-3.01, abs=0.02)
    half = Level.of(sine(1.0, amplitude=0.5))
    assert half.peak_db == pytest.approx(-6.02, abs=0.02)
    assert Level.of(np.zeros(100, dtype=np.float32)) == Level(FLOOR_DB, FLOOR_DB)
    assert Level.of(np.zeros(0, dtype=np.float32)) == Level()


def test_file_source_replays_every_sample(tmp_path) -> None:
    from core.audio import save_wav

    audio = sine(1.3)
    path = save_wav(tmp_path / "tone.wav", audio, SR)
    with WavFileSource(path, SR, speed=0, block_seconds=0.03) as source:
        blocks = []
        while (block := source.read()) is not None:
            blocks.append(block)
    assert {b.size for b in blocks[:-1]} == {480}
    np.testing.assert_allclose(np.concatenate(blocks), audio, atol=1 / 32768)
    assert source.name == "tone.wav"


def test_file_source_resamples_to_the_project_rate(tmp_path) -> None:
    from core.audio import save_wav

    tone48k = 0.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)
    path = save_wav(tmp_path / "tone48k.wav", tone48k, 48000)
    with WavFileSource(path, SR, speed=0) as source:
        assert source.audio.size == SR and source.seconds == pytest.approx(1.0)


def test_real_time_file_source_returns_empty_blocks_until_audio_is_due() -> None:
    with WavFileSource.from_array(sine(0.5), SR, speed=1.0, block_seconds=0.2) as source:
        assert source.read(timeout=0.0).size == 0  # the first 0.2 s are not "recorded" yet


def test_record_takes_the_requested_seconds_and_reports_progress() -> None:
    progress: list[RecordingProgress] = []
    counts: list[int] = []
    with WavFileSource.from_array(sine(6.0), SR, speed=0) as source:
        result = record(source, 2.5, countdown=2, on_countdown=counts.append, on_progress=progress.append)
    assert counts == [2, 1, 0]
    assert result.seconds == pytest.approx(2.5) and not result.cancelled
    # The countdown consumed the first 2 s of the source; the recording is the next 2.5 s.
    np.testing.assert_array_equal(result.audio, sine(6.0)[2 * SR: 9 * SR // 2])
    assert progress[-1].remaining == 0.0 and progress[-1].elapsed == pytest.approx(2.5)
    assert result.level.peak_db == pytest.approx(-6.02, abs=0.05)


def test_a_silent_microphone_is_refused_instead_of_recorded() -> None:
    with WavFileSource.from_array(np.zeros(10 * SR, dtype=np.float32), SR, speed=0) as source:
        with pytest.raises(CaptureError, match="only silence") as caught:
            record(source, 8, countdown=0)
        assert source.position == 2 * SR  # it gave up after the first two seconds
    assert caught.value.hint == DEAD_MIC_HINT


def test_quiet_but_live_input_is_recorded() -> None:
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(3 * SR) * 10 ** (-60 / 20)).astype(np.float32)  # -60 dBFS room noise
    with WavFileSource.from_array(hiss, SR, speed=0) as source:
        assert record(source, 3, countdown=0).seconds == pytest.approx(3.0)


def test_cancel_keeps_what_was_recorded() -> None:
    cancel = threading.Event()

    def stop_after_a_second(progress: RecordingProgress) -> None:
        if progress.elapsed >= 1.0:
            cancel.set()

    with WavFileSource.from_array(sine(5.0), SR, speed=0) as source:
        result = record(source, 4, countdown=0, on_progress=stop_after_a_second, cancel=cancel)
    assert result.cancelled
    assert result.seconds == pytest.approx(1.0, abs=0.05)
    np.testing.assert_array_equal(result.audio, sine(5.0)[: result.audio.size])


def test_cancel_during_the_countdown_records_nothing() -> None:
    cancel = threading.Event()
    with WavFileSource.from_array(sine(5.0), SR, speed=0) as source:
        result = record(source, 2, countdown=3, on_countdown=lambda n: cancel.set(), cancel=cancel)
    assert result.cancelled and result.audio.size == 0


def test_a_source_that_ends_early_gives_what_it_had() -> None:
    with WavFileSource.from_array(sine(1.5), SR, speed=0) as source:
        result = record(source, 20, countdown=0)
    assert result.seconds == pytest.approx(1.5) and not result.cancelled


def test_missing_portaudio_gives_an_install_hint_and_other_commands_still_work(tmp_path) -> None:
    # sounddevice raises OSError when ctypes cannot find libportaudio: simulate exactly that.
    script = """
import ctypes.util, sys
real = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "portaudio" in name else real(name)
sys.argv = ["earshot"] + sys.argv[1:]
from earshot.cli import main
raise SystemExit(main(sys.argv[1:]))
"""

    def earshot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True,
                              timeout=60)

    devices = earshot("devices")
    assert devices.returncode == 1
    assert "apt-get install libportaudio2" in devices.stderr
    assert "Traceback" not in devices.stderr
    created = earshot("new", str(tmp_path / "p"))
    assert created.returncode == 0, created.stderr
    recording = earshot("record", str(tmp_path / "p"), "Background Noise", "--seconds", "1")
    assert recording.returncode == 1 and "libportaudio2" in recording.stderr
    replay = earshot("record", str(tmp_path / "p"), "Background Noise", "--seconds", "1", "--input",
                     str(tmp_path / "missing.wav"))
    assert replay.returncode == 1 and "no such file" in replay.stderr
    from core.audio import save_wav

    take = save_wav(tmp_path / "take.wav", sine(3.0, amplitude=0.1), SR)
    from_file = earshot("record", str(tmp_path / "p"), "Background Noise", "--input", str(take),
                        "--speed", "0")
    assert from_file.returncode == 0, from_file.stderr  # a file needs no PortAudio
    assert "3 clips" in from_file.stdout


def test_unknown_device_names_say_how_to_list_them(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [capture.InputDevice(0, "USB Mic", "ALSA", 1, 48000.0, False),
               capture.InputDevice(3, "default", "ALSA", 2, 44100.0, True),
               capture.InputDevice(4, "USB Mic 2", "ALSA", 1, 48000.0, False)]
    monkeypatch.setattr(microphone, "list_input_devices", lambda: devices)  # where it is looked up
    assert capture.find_input_device(None).index == 3
    assert capture.find_input_device("3").index == 3
    assert capture.find_input_device("usb mic").index == 0  # an exact name wins over partial matches
    with pytest.raises(CaptureError, match="several") as several:
        capture.find_input_device("usb")
    assert "number" in (several.value.hint or "")
    with pytest.raises(CaptureError, match="no input device matches") as missing:
        capture.find_input_device("webcam")
    assert "earshot devices" in (missing.value.hint or "")
    with pytest.raises(CaptureError, match="number 9"):
        capture.find_input_device(9)
    monkeypatch.setattr(microphone, "list_input_devices", lambda: [])
    with pytest.raises(CaptureError, match="no microphone"):
        capture.find_input_device(None)


class FailingSource:
    """A test double: sound for `good` samples, then the device goes away."""

    sample_rate = SR
    name = "usb mic"
    overflows = 0

    def __init__(self, good: int) -> None:
        self.audio = sine(good / SR)
        self.position = 0

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def level(self) -> Level:
        return Level()

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        if self.position >= self.audio.size:
            raise CaptureError(f"{self.name}: the microphone stopped sending audio", "check it")
        block = self.audio[self.position:self.position + 800]
        self.position += block.size
        return block


def test_a_microphone_that_fails_part_way_keeps_what_came_before() -> None:
    result = record(FailingSource(3 * SR), 10, countdown=0)
    assert result.seconds == pytest.approx(3.0)
    assert result.problem is not None and "stopped sending audio" in result.problem
    assert not result.cancelled


def test_a_microphone_that_fails_at_once_raises() -> None:
    with pytest.raises(CaptureError, match="stopped sending"):
        record(FailingSource(0), 10, countdown=0)
