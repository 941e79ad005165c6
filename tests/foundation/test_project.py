"""The project folder: classes, names, the lock, atomic writes, a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import atomic
from core.errors import EarshotError, ProjectError, ProjectLockedError
from core.project import PROJECT_FILE, Project, validate_class_name
from core.spec import BACKGROUND_NOISE, AudioSpec
from tests.foundation.helpers import tone, tree_digest

REPO = Path(__file__).resolve().parents[2]


def test_new_project_layout_and_json(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", name="Words", audio=AudioSpec(8000, 0.5))
    data = json.loads((tmp_path / "p" / PROJECT_FILE).read_text())
    assert data["schema"] == 1 and data["name"] == "Words"
    assert (data["sample_rate"], data["clip_seconds"]) == (8000, 0.5)
    assert data["classes"] == [{"id": "c0", "name": BACKGROUND_NOISE, "folder": "background-noise",
                                "fixed": True}]
    assert data["training"]["epochs"] > 0
    for sub in ("samples/background-noise", "recordings", "trash", "models"):
        assert (tmp_path / "p" / sub).is_dir()
    assert Project.open(tmp_path / "p").audio.clip_samples == 4000
    assert project.summary().to_dict()["ready"] is False
    with pytest.raises(ProjectError, match="already an earshot project"):
        Project.create(tmp_path / "p")


def test_classes_add_rename_remove(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    yes = project.add_class("Yes please")
    assert yes.folder == "yes-please" and (tmp_path / "p/samples/yes-please").is_dir()
    project.add_clips(yes, [tone(1.0)], prefix="take")
    renamed = project.rename_class("yes please", "Yes!")
    assert renamed.folder == "yes-please" and renamed.id == yes.id  # files stay put
    assert project.sample_count(renamed) == 1
    with pytest.raises(ProjectError, match="already exists"):
        project.add_class("YES!")
    trash = project.remove_class("Yes!")
    assert len(list((trash / "samples").glob("*.wav"))) == 1  # moved, not deleted
    assert [c.name for c in Project.open(tmp_path / "p").classes] == [BACKGROUND_NOISE]
    for action in (lambda: project.rename_class(BACKGROUND_NOISE, "Noise"),
                   lambda: project.remove_class(BACKGROUND_NOISE)):
        with pytest.raises(ProjectError, match="fixed"):
            action()


def test_two_classes_whose_names_slugify_alike_get_separate_folders(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    a, b = project.add_class("on/off".replace("/", "-")), project.add_class("on off")
    assert a.folder != b.folder


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=50)


@settings(max_examples=300, deadline=None)
@given(names)
def test_class_name_validation_property(name: str) -> None:
    try:
        cleaned = validate_class_name(name)
    except ProjectError as error:
        assert error.hint and "\n" not in error.message
        stripped = unicodedata.normalize("NFC", name).strip()
        assert (not stripped or len(stripped) > 40 or "/" in stripped or "\\" in stripped
                or stripped in {".", ".."} or any(unicodedata.category(c).startswith("C") for c in stripped))
        return
    assert 1 <= len(cleaned) <= 40 and cleaned == cleaned.strip()
    assert "/" not in cleaned and "\\" not in cleaned and cleaned not in {".", ".."}
    assert not any(unicodedata.category(c).startswith("C") for c in cleaned)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(names, min_size=1, max_size=4))
def test_any_accepted_names_make_safe_distinct_folders(candidates: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(Path(tmp) / "p")
        seen = {BACKGROUND_NOISE.casefold()}
        for name in candidates:
            try:
                info = project.add_class(name)
            except ProjectError:
                continue
            assert info.name.casefold() not in seen
            seen.add(info.name.casefold())
            folder = project.samples_dir(info)
            assert folder.parent == project.root / "samples" and folder.is_dir()
        reopened = Project.open(project.root)
        assert [c.name for c in reopened.classes] == [c.name for c in project.classes]
        assert len({c.folder for c in reopened.classes}) == len(reopened.classes)


def test_info_json_is_stable_and_reports_readiness(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    word = project.add_class("go")
    project.add_clips(project.get_class(BACKGROUND_NOISE), [tone(1.0, freq=100 + i) for i in range(45)],
                      prefix="bg")
    project.add_clips(word, [tone(1.0, freq=300 + i) for i in range(20)], prefix="go")
    data = project.summary().to_dict()
    assert set(data) == {"name", "sample_rate", "clip_seconds", "classes", "ready", "problems"}
    assert data["classes"] == [{"name": BACKGROUND_NOISE, "samples": 45, "seconds": 45.0},
                               {"name": "go", "samples": 20, "seconds": 20.0}]
    assert data["ready"] is True and any("imbalanced" in p for p in data["problems"])


def test_the_minimum_per_class_is_configurable(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", min_samples=3)
    word = project.add_class("go")
    for info, base in ((project.classes[0], 100), (word, 300)):
        project.add_clips(info, [tone(1.0, freq=base + i) for i in range(3)], prefix="x")
    assert project.summary().ready and project.train_spec.min_samples == 3
    project.set_train_spec(replace(project.train_spec, min_samples=4))
    reopened = Project.open(tmp_path / "p")
    assert reopened.min_samples == 4 and not reopened.summary().ready
    assert "go: 3 of 4 samples, needs 1 more" in reopened.summary().problems
    with pytest.raises(ProjectError, match="out of range"):
        Project.create(tmp_path / "q", min_samples=0)


HOLD_LOCK = """
import sys, time
from core.project import Project
project = Project.open(sys.argv[1])
with project.lock():
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_process_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    Project.create(tmp_path / "p")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / "p")], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ProjectLockedError, match=f"earshot pid {holder.pid}"):
            Project.open(tmp_path / "p").add_class("go")
        cli = subprocess.run([sys.executable, "-m", "earshot", "class", "add", str(tmp_path / "p"), "go"],
                             cwd=REPO, capture_output=True, text=True)
        assert cli.returncode == 1
        assert cli.stderr.count("\n") == 1 and cli.stderr.startswith("earshot: error: ")
        assert "being changed" in cli.stderr
    finally:
        holder.communicate("", timeout=10)
    assert Project.open(tmp_path / "p").add_class("go").name == "go"  # free again


def test_an_exception_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "project.json"
    atomic.write_json(target, {"a": 1})

    def explode(handle) -> None:
        handle.write(b'{"half": ')
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic.write_with(target, explode)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["project.json"]


WRITE_FOREVER = """
import sys
from core.project import Project
project = Project.open(sys.argv[1])
print("writing", flush=True)
i = 0
while True:
    i += 1
    project.set_settings("big", {"i": i, "payload": "x" * 200000})
"""


def test_a_kill_mid_write_never_leaves_a_broken_project_json(tmp_path: Path) -> None:
    Project.create(tmp_path / "p")
    for delay in (0.05, 0.2, 0.4):
        writer = subprocess.Popen([sys.executable, "-c", WRITE_FOREVER, str(tmp_path / "p")], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        project = Project.open(tmp_path / "p")  # parses, or this raises
        assert project.settings("big").get("payload", "x" * 200000) == "x" * 200000
        assert project.classes[0].name == BACKGROUND_NOISE
    (tmp_path / "p" / ".import-1-dead").mkdir()
    project.add_class("go")  # the next writer clears what killed writers left
    assert sorted(p.name for p in (tmp_path / "p").iterdir() if p.name.startswith(".")) == [".earshot.lock"]


WRITE_CLIPS_FOREVER = """
import sys
import numpy as np
from core.project import Project
project = Project.open(sys.argv[1])
info = project.get_class("go")
rng = np.random.default_rng(0)
print("writing", flush=True)
while True:
    project.add_clips(info, [rng.uniform(-0.5, 0.5, 16000).astype(np.float32) for _ in range(20)], prefix="k")
"""


def test_a_kill_mid_write_never_leaves_a_half_written_wav(tmp_path: Path) -> None:
    import soundfile

    Project.create(tmp_path / "p").add_class("go")
    writer = subprocess.Popen([sys.executable, "-c", WRITE_CLIPS_FOREVER, str(tmp_path / "p")], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    time.sleep(0.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    project = Project.open(tmp_path / "p")
    samples = project.samples(project.get_class("go"))
    assert samples  # it got some written before the kill
    for path in samples:
        assert soundfile.info(path).frames == 16000, path


def test_a_full_disk_is_a_one_line_error_and_the_project_stays_intact(tiny_disk: Path) -> None:
    project = Project.create(tiny_disk / "p")
    word = project.add_class("go")
    before = tree_digest(project.root)
    clips = [tone(1.0, freq=200 + i) for i in range(60)]  # 60 x 32 kB: more than the disk holds
    with pytest.raises(EarshotError, match="disk full") as info:
        project.add_clips(word, clips, prefix="go")
    assert "\n" not in str(info.value) and info.value.hint
    assert tree_digest(project.root) == before  # no partial batch, no half WAV, no temp file
    project.add_clips(word, clips[:5], prefix="go")  # what fits still works
    assert project.sample_count(word) == 5
    with pytest.raises(EarshotError, match="disk full"):
        project.set_settings("push", {"blob": "x" * 2_000_000})
    assert Project.open(project.root).settings("push") == {} == project.settings("push")
    assert np.isclose(Project.open(project.root).audio.clip_seconds, 1.0)
