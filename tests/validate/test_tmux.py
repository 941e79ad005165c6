"""`k` in a real terminal: listen to the PulseAudio virtual microphone under tmux at 80x24, keep the
window of a decision as a Background Noise sample, and go on listening."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from core.project import Project
from core.spec import BACKGROUND_NOISE
from tests.fixtures.pulse import PulseMic
from tests.tui.test_tmux import EARSHOT, Tmux
from tests.validate.conftest import SR, tone_take
from tests.validate.test_cli import PATTERN

pytestmark = [pytest.mark.slow, pytest.mark.hardware,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def test_k_keeps_a_window_in_a_real_terminal(pulse_mic: PulseMic, tones: Callable[[], Project],
                                            tmp_path: Path) -> None:
    if pulse_mic.keepalive is None:
        pulse_mic.keep_running()
    project = tones()
    noise = project.get_class(BACKGROUND_NOISE)
    before = project.sample_count(noise)
    env = {"PULSE_SERVER": pulse_mic.server, "TERM": "xterm-256color",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tmux = Tmux("keep")
    tmux.start([str(EARSHOT), "tui", str(project.root)], env, tmp_path)
    screen = ""
    try:
        tmux.wait_for("Classes", 30)
        tmux.keys("4")
        tmux.wait_for("Ready: Listen", 15)
        tmux.wait_for("(default)", 15)
        player = pulse_mic.play(tone_take(PATTERN, 20.0), SR, wait=False)
        tmux.keys("l")
        tmux.wait_for("Listening", 20)
        heard = tmux.wait_for(" s  low ", 20)  # the first tone's decision in the log
        assert "Keep" in heard  # the key bar offers k
        tmux.keys("k")
        picker = tmux.wait_for("as a sample of", 10)
        assert picker.index("1  Background Noise") < picker.index("2  low")
        tmux.keys("Enter")
        tmux.wait_for("Kept as a sample of Background Noise", 10)
        tmux.wait_for(" s  high ", 15)  # still listening: the next tone is reported
        player.wait(timeout=30)
        tmux.keys("s")
        tmux.wait_for("Stopped after", 15)
        tmux.keys("2")
        screen = tmux.wait_for(f"{before + 1} ✓", 10)  # the Data tab's count
        tmux.keys("C-q")
        tmux.wait_for("EARSHOT-EXITED 0", 15)
    finally:
        screen = screen or tmux.screen()
        tmux.kill()
    assert "Traceback" not in screen
    assert Project.open(project.root).sample_count(noise) == before + 1
