"""The demo data and the demo project built from it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import core.demo
from core.audio import load
from core.demo import create_demo, is_demo, sample_data_dir
from core.errors import AudioError, ProjectError
from core.project import Project
from core.spec import BACKGROUND_NOISE
from tests.foundation.helpers import tree_digest

REPO = Path(__file__).resolve().parents[2]


def test_sample_data_is_small_and_described() -> None:
    folder = sample_data_dir()
    manifest = json.loads((folder / "demo.json").read_text())
    files = [folder / f for c in manifest["classes"] for f in c["recordings"]]
    assert manifest["classes"][0]["name"] == BACKGROUND_NOISE and len(manifest["classes"]) >= 4
    assert sum(f.stat().st_size for f in files) < 4_000_000
    for f in files:
        info = soundfile.info(f)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_demo_project_is_ready_with_clean_centred_word_clips(tmp_path: Path) -> None:
    result = create_demo(tmp_path / "demo")
    project = result.project
    assert result.created and is_demo(project.root)
    summary = project.summary()
    assert summary.ready and not summary.warnings
    assert [c.name for c in summary.classes] == [BACKGROUND_NOISE, "yes", "no", "stop"]
    assert all(c.samples >= 20 for c in summary.classes)
    for info in project.classes:
        assert len(project.recordings(info)) == 2  # the raw recordings are kept
    for info in project.classes[1:]:
        for path in project.samples(info):
            clip = load(path, 16000)
            energy = np.convolve(clip**2, np.ones(1600), mode="same")
            assert 3200 < int(np.argmax(energy)) < 12800, path  # the word sits in the middle of its clip
    for _, _, extraction in result.extractions:
        assert extraction.mode == ("fixed" if extraction.requested_mode == "fixed" else "events")
        assert not extraction.dropped


def test_an_existing_demo_is_kept_and_other_folders_are_refused(tmp_path: Path) -> None:
    create_demo(tmp_path / "demo")
    before = tree_digest(tmp_path / "demo")
    again = create_demo(tmp_path / "demo")
    assert not again.created and tree_digest(tmp_path / "demo") == before
    Project.create(tmp_path / "mine")
    with pytest.raises(ProjectError, match="not the demo"):
        create_demo(tmp_path / "mine")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="not empty"):
        create_demo(tmp_path / "full")
    (tmp_path / "empty").mkdir()
    assert create_demo(tmp_path / "empty").created


def test_an_interrupted_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_load = core.demo.load

    def failing_load(path: Path, sample_rate: int) -> np.ndarray:
        calls.append(path)
        if len(calls) == 3:
            raise AudioError(f"{path}: simulated failure")
        return real_load(path, sample_rate)

    monkeypatch.setattr(core.demo, "load", failing_load)
    with pytest.raises(AudioError, match="simulated"):
        create_demo(tmp_path / "demo")
    assert list(tmp_path.iterdir()) == []


def test_missing_demo_recordings_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="missing") as info:
        create_demo(tmp_path / "demo", source=tmp_path / "nothing")
    assert "make_demo.py" in str(info.value.hint)


@pytest.mark.slow
def test_the_script_regenerates_the_committed_demo_data_exactly(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make system-deps installs it)")
    subprocess.run([sys.executable, str(REPO / "sample_data" / "make_demo.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    committed = sample_data_dir()
    assert (tmp_path / "demo.json").read_text() == (committed / "demo.json").read_text()
    for made in sorted(tmp_path.glob("*.flac")):
        ours, _ = soundfile.read(made, dtype="int16")
        theirs, _ = soundfile.read(committed / made.name, dtype="int16")
        np.testing.assert_array_equal(ours, theirs, err_msg=made.name)
