"""The app in a real terminal: `earshot tui DIR` under tmux at 80x24, driven with send-keys, read with
capture-pane. Record 20 seconds from the PulseAudio virtual microphone -> Extract -> train -> Listen ->
Export, switching tabs while recording, training and listening; every tab's keys keep working."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.audio import load
from core.project import Project
from tests.fixtures.datasets import DatasetFile
from tests.fixtures.pulse import PulseMic
from tests.tui.conftest import WordSplit, by_speaker

pytestmark = [pytest.mark.slow, pytest.mark.hardware,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

SR = 16000
EARSHOT = Path(sys.executable).parent / "earshot"
ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    """One tmux session on a private server, 80x24."""

    def __init__(self, name: str) -> None:
        self.socket, self.name = f"earshot-test-{os.getpid()}", name

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True, timeout=20).stdout

    def start(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        env = {"PYTHONPATH": str(ROOT), **env}  # this checkout's code, whatever the venv has installed
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        line = f"cd {cwd} && env {exports} {' '.join(command)}; echo EARSHOT-EXITED $?; sleep 600"
        self.run("new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", line)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def screen(self, *, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.name)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear within {timeout} s; the screen:\n{screen}")
            time.sleep(0.2)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


def words_track(paths: list[Path], noise: np.ndarray, *, lead: float, gap: float) -> np.ndarray:
    pieces = [np.zeros(int(lead * SR), dtype=np.float32)]
    for path in paths:
        pieces += [load(path, SR), np.zeros(int(gap * SR), dtype=np.float32)]
    track = np.concatenate(pieces)
    return track + np.resize(noise, track.size)


@pytest.fixture
def tmux_project(word_split: WordSplit, tmp_path: Path) -> Path:
    """Background Noise and "no" ready (24 each); "yes" with 16 uploaded: the recording completes it."""
    from core.ingest import import_samples

    root = tmp_path / "words"
    project = Project.create(root, name="words")
    for name in ("yes", "no"):
        project.add_class(name)
    import_samples(project, [word_split.folders["Background Noise"]], class_name="Background Noise")
    import_samples(project, [word_split.folders["no"]], class_name="no")
    import_samples(project, sorted(word_split.folders["yes"].iterdir())[:16], class_name="yes")
    return root


def test_record_train_listen_in_tmux(pulse_mic: PulseMic, tmux_project: Path,
                                     dataset_files: list[DatasetFile], datasets_dir: Path,
                                     tmp_path: Path) -> None:
    if pulse_mic.keepalive is None:
        pulse_mic.keep_running()
    noise = load(datasets_dir / "background_noise" / "pink_noise.wav", SR)
    noise = (noise * (10 ** (-50 / 20) / float(np.sqrt(np.mean(noise ** 2))))).astype(np.float32)
    yes_paths, _ = by_speaker(dataset_files, "yes", 40)
    recorded_words = yes_paths[24:36]  # speakers not among the 24 uploaded ones
    env = {"PULSE_SERVER": pulse_mic.server, "TERM": "xterm-256color",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tmux = Tmux("earshot")
    tmux.start([str(EARSHOT), "tui", str(tmux_project)], env, tmp_path)
    try:
        tmux.wait_for("Classes", 30)
        tmux.keys("Down")  # Background Noise -> yes
        tmux.wait_for("yes: 16 samples")
        tmux.keys("r")
        dialog = tmux.wait_for("Record into yes")
        tmux.wait_for("(default)", 15)  # the microphone list is filled, the default one first
        tmux.keys("r")
        tmux.wait_for("Recording starts in", 15)
        # 3 s countdown, then 20 s: words from about 4.5 s to 21 s of the track
        pulse_mic.play(words_track(recorded_words, noise, lead=4.5, gap=0.45), SR, wait=False)
        during = tmux.wait_for("s left", 20)
        assert "dB peak" in during
        tmux.keys("3")  # a tab key while the dialog records: the dialog answers first, recording goes on
        time.sleep(1.0)
        assert "Record into yes" in tmux.screen() and "s left" in tmux.screen()
        done = tmux.wait_for("Press e to Extract", 40)
        assert "Recorded 20.0 s (done)" in done
        pulse_mic.wait_players()
        tmux.keys("e")
        extracted = tmux.wait_for("Kept ", 30)
        kept = int(extracted.split("Kept ")[1].split(",")[0])
        assert kept >= 6, extracted
        tmux.keys("Escape")
        project = Project.open(tmux_project)
        info = project.get_class("yes")
        assert project.sample_count(info) == 16 + kept
        assert len(project.recordings(info)) == 1
        tmux.wait_for(f"yes: {16 + kept} samples")

        tmux.keys("3")
        tmux.wait_for("Train Model")
        tmux.keys("s")
        tmux.wait_for("Learning rate")
        tmux.keys("4", "Enter")  # 4 epochs, typed into the focused Epochs field; Enter trains
        tmux.wait_for("Epoch 1/4", 150)
        tmux.keys("2")  # away while training: the Data tab's keys work
        tmux.wait_for("Del class")
        tmux.keys("3")
        trained = tmux.wait_for("Done: 4 epochs", 150)
        assert "Saved model: test accuracy" in trained
        assert (tmux_project / "models" / "latest" / "model.tflite").is_file()
        tmux.keys("l")  # Learn More: the reading and the confusion matrix come into view
        learn = tmux.wait_for("Confusion matrix", 10)
        assert "the saved model has test accuracy" in learn

        tmux.keys("4")
        tmux.wait_for("Classify a file")
        tmux.wait_for("(default)", 15)
        tmux.wait_for("Ready: Listen", 15)
        tmux.keys("l")
        tmux.wait_for("Listening", 20)
        pulse_mic.play(words_track(yes_paths[36:40], noise, lead=0.5, gap=0.8), SR, wait=False)
        tmux.keys("5")  # away and back while listening
        tmux.wait_for("Export Model")
        tmux.keys("4")
        listening = tmux.wait_for("Listening: ", 10)
        for label in ("Background Noise", "yes", "no"):
            assert label in listening  # a score bar per class
        assert "%" in listening
        seconds = float(listening.split("Listening:")[1].split(" s")[0])
        assert 0 < seconds < 30  # the stream's seconds
        pulse_mic.wait_players()
        tmux.keys("s")  # "Stop with s" works after the tab switches
        stopped = tmux.wait_for("Stopped after", 15)
        assert "decisions" in stopped

        tmux.keys("5")
        tmux.wait_for("Export Model")
        tmux.keys("e")
        exported = tmux.wait_for("Exported", 90)
        assert "Real-time Result Push" in exported  # the file list does not push Push off screen
        tmux.keys("f")  # no board in this machine: it says so at once
        flashed = tmux.wait_for("board", 10)
        assert "No board is plugged in" in flashed or "board port(s) found" in flashed
        dialog = tmux.screen()
        tmux.keys("C-q")
        tmux.wait_for("EARSHOT-EXITED 0", 15)
    finally:
        screen = tmux.screen() if "dialog" in locals() else ""
        tmux.kill()
    assert "Traceback" not in screen
    Project.open(tmux_project)  # still a valid project


@pytest.mark.parametrize("term", ["xterm", "xterm-256color"])
def test_earshot_alone_opens_the_project_here(term: str, words_project: Path, tmp_path: Path) -> None:
    """`earshot` with no command, in a project folder, in a 16-colour and a 256-colour terminal."""
    env = {"TERM": term, "COLORTERM": "", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tmux = Tmux(f"colours-{term}")
    tmux.start([str(EARSHOT)], env, words_project / "samples")
    try:
        screen = tmux.wait_for("Classes", 30)
        assert "Background Noise" in screen and "24 ✓" in screen
        coloured = tmux.screen(escapes=True)
        extended = "38;5;" in coloured or "38;2;" in coloured
        assert extended == (term == "xterm-256color")  # only the 16 basic colours in a plain xterm
        tmux.keys("?")
        tmux.wait_for("Keys (Tab moves")
        tmux.keys("Escape")
        time.sleep(0.5)
        tmux.keys("C-q")
        tmux.wait_for("EARSHOT-EXITED 0", 15)
    finally:
        tmux.kill()
