"""The foundation commands through `python -m earshot`: exit codes, output, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.foundation.helpers import bursts, tone, tree_digest, wav_tree, write_wav

REPO = Path(__file__).resolve().parents[2]


def earshot(*args: object, ok: bool = True, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "earshot", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("earshot: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "(" in done.stderr  # every error carries a hint in parentheses
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    earshot("new", tmp_path / "p", "--name", "words")
    return tmp_path / "p"


def test_new_info_and_classes(project: Path) -> None:
    earshot("class", "add", project, "yes")
    earshot("class", "add", project, "no")
    earshot("class", "rename", project, "no", "nope")
    removed = earshot("class", "remove", project, "nope")
    assert "trash" in removed.stdout
    data = json.loads(earshot("info", project, "--json").stdout)
    assert set(data) == {"name", "sample_rate", "clip_seconds", "classes", "ready", "problems"}
    assert [c["name"] for c in data["classes"]] == ["Background Noise", "yes"]
    assert data["ready"] is False and data["problems"]
    assert_one_line_error(earshot("class", "add", project, "a/b", ok=False), "path separator")
    assert_one_line_error(earshot("class", "remove", project, "Background Noise", ok=False), "fixed")
    assert_one_line_error(earshot("info", project.parent / "missing", ok=False), "not an earshot project")


def test_extract_a_recording(project: Path, tmp_path: Path, rng) -> None:
    earshot("class", "add", project, "beep")
    recording = write_wav(tmp_path / "beeps.wav", bursts([2.0, 5.0, 8.0, 11.0], seconds=14.0, noise=1e-3,
                                                          rng=rng))
    done = earshot("extract", project, "beep", recording)
    assert "4 clips from 14.0 s (events: 4 sounds)" in done.stdout
    fixed = earshot("extract", project, "Background Noise", recording, "--mode", "fixed")
    assert "14 clips" in fixed.stdout
    assert_one_line_error(earshot("extract", project, "boop", recording, ok=False), "no class named 'boop'")
    silent = write_wav(tmp_path / "silent.wav", tone(3.0, amplitude=0.0))
    assert_one_line_error(earshot("extract", project, "beep", silent, ok=False), "no usable clips")
    assert len(list((project / "recordings" / "beep").glob("*.wav"))) == 2  # the silent one is kept too


def test_import_errors_are_one_line_and_change_nothing(project: Path, tmp_path: Path) -> None:
    before = tree_digest(project)
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    assert_one_line_error(earshot("import", project, corrupt, ok=False), "corrupt.zip", "not a readable zip")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert_one_line_error(earshot("import", project, text, "--class", "Background Noise", ok=False),
                          "notes.txt")
    clip = write_wav(tmp_path / "one.wav", tone(1.0))
    assert_one_line_error(earshot("import", project, clip, "--class", "stop", ok=False),
                          "no class named 'stop'", "earshot class add")
    assert_one_line_error(earshot("import", project, tmp_path / "nope.zip", ok=False), "no such file")
    assert tree_digest(project) == before


def test_import_lists_skipped_files_and_export_round_trips(project: Path, tmp_path: Path, rng) -> None:
    wav_tree(tmp_path / "up", {"yes": 3, "no": 2}, rng)
    (tmp_path / "up" / "yes" / "readme.txt").write_text("hi")
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as archive:
        for path in sorted((tmp_path / "up").rglob("*")):
            archive.write(path, path.relative_to(tmp_path / "up"))
    done = earshot("import", project, tmp_path / "up.zip")
    assert "imported 5 samples from 5 files" in done.stdout and "new classes: no, yes" in done.stdout
    assert "skipped 1 file:" in done.stderr and "readme.txt" in done.stderr
    assert "; skipped 1 file" in done.stdout and "1 files" not in done.stdout
    exported = earshot("export-samples", project, "-o", tmp_path / "out.zip")
    assert "exported 5 samples" in exported.stdout
    earshot("new", tmp_path / "q")
    earshot("import", tmp_path / "q", tmp_path / "out.zip")
    assert tree_digest(tmp_path / "q" / "samples") == tree_digest(project / "samples")
    only = earshot("export-samples", project, "--class", "yes", "-o", tmp_path / "yes.zip")
    assert "exported 3 samples (yes 3)" in only.stdout
    long_one = write_wav(tmp_path / "long.wav", bursts([1.0, 3.0, 5.0], seconds=6.0, noise=1e-3, rng=rng))
    single = earshot("import", project, long_one, "--class", "yes", "--mode", "fixed")
    assert "imported 6 samples from 1 file (yes +6)" in single.stdout, single.stdout


def test_demo_builds_once_and_keeps_an_existing_demo(tmp_path: Path) -> None:
    first = earshot("demo", "--dir", tmp_path / "demo")
    assert "created the demo project" in first.stdout and "ready to train" in first.stdout
    data = json.loads(earshot("info", tmp_path / "demo", "--json").stdout)
    assert [c["name"] for c in data["classes"]] == ["Background Noise", "yes", "no", "stop"]
    assert all(c["samples"] >= 20 for c in data["classes"]) and data["ready"]
    before = tree_digest(tmp_path / "demo")
    second = earshot("demo", "--dir", tmp_path / "demo")
    assert "already the demo project; kept it" in second.stdout
    assert tree_digest(tmp_path / "demo") == before
    earshot("new", tmp_path / "mine")
    assert_one_line_error(earshot("demo", "--dir", tmp_path / "mine", ok=False), "not the demo")


def test_a_full_disk_is_one_line_on_the_command_line(tiny_disk: Path, tmp_path: Path, rng) -> None:
    earshot("new", tiny_disk / "p")
    before = tree_digest(tiny_disk / "p")
    wav_tree(tmp_path / "up", {"yes": 25, "no": 25}, rng)
    assert_one_line_error(earshot("import", tiny_disk / "p", tmp_path / "up", ok=False), "disk full")
    assert tree_digest(tiny_disk / "p") == before


def test_flash_refuses_a_missing_port_before_exporting(project: Path, tmp_path: Path) -> None:
    """An untrained project would fail the export with 'no trained model': the port is checked first."""
    done = earshot("flash", project, "--port", tmp_path / "ttyACM0", ok=False)
    assert_one_line_error(done, "no serial port", "earshot devices")
    assert "exporting" not in done.stderr and "trained" not in done.stderr


def test_project_folder_defaults_to_the_current_one(project: Path) -> None:
    """Every command whose only positional is the project folder takes `.` when it is left out."""
    here = json.loads(earshot("info", "--json", cwd=project).stdout)
    assert here["name"] == "words" and [c["name"] for c in here["classes"]] == ["Background Noise"]
    for command in ("info", "map", "calibrate", "export-samples", "train", "eval", "export"):
        shown = earshot(command, "--help").stdout
        assert "[dir]" in shown and "(default: .)" in " ".join(shown.split()), (command, shown)
    # without a model, calibrate in the project folder says so (it did not ask for DIR)
    assert_one_line_error(earshot("calibrate", cwd=project, ok=False), "earshot train")


def test_new_describes_itself_and_every_option() -> None:
    overview = earshot("--help").stdout
    assert "create a sound classification project" in overview and "speech classification" not in overview
    shown = " ".join(earshot("new", "--help").stdout.split())
    assert "music" in shown and "machine noises" in shown
    assert "--sample-rate SAMPLE_RATE Hz every clip is stored and classified at (default 16000)" in shown
    assert "--clip-seconds CLIP_SECONDS length of one sample in seconds (default 1)" in shown
