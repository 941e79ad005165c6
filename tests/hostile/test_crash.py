"""kill -9 at every step of the two multi-step commits: the model swap and the import.

A subprocess runs the real code with `EARSHOT_CRASH_AT=POINT` (core.atomic.crash_point), which kills
it with SIGKILL at that step. The next process to open the project must find either the old state or
the new one, complete, never a mix, and a retry must finish the job.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from core import modelstore
from core.project import Project
from tests.hostile.helpers import python, run, snapshot

SAVE_MODEL = """
import sys
from core import atomic, modelstore
from core.project import Project
project = Project.open(sys.argv[1] if len(sys.argv) > 1 else {root!r})
with project.lock(), modelstore.new_model(project.models_dir) as folder:
    (folder / "model.tflite").write_bytes(b"model " + {tag!r}.encode())
    atomic.write_json(folder / "metadata.json", {{"tag": {tag!r}}})
    (folder / "labels.txt").write_text("a\\nb\\n")
"""


def save_model(root: Path, tag: str, crash: str | None = None) -> int:
    env = {"EARSHOT_CRASH_AT": crash} if crash else None
    done = python(SAVE_MODEL.format(root=str(root), tag=tag), env=env)
    if crash is None:
        assert done.returncode == 0, done.stderr
    return done.returncode


def tag_of(folder: Path | None) -> str | None:
    return None if folder is None else json.loads((folder / "metadata.json").read_text())["tag"]


def test_a_saved_model_is_latest_readable_by_others_and_the_old_one_is_previous(project: Path) -> None:
    save_model(project, "one")
    save_model(project, "two")
    models = project / "models"
    assert tag_of(models / "latest") == "two" and tag_of(models / "previous") == "one"
    assert (models / "latest").is_symlink()
    assert (models / "latest").resolve().stat().st_mode & 0o005 == 0o005  # others can read and enter
    save_model(project, "three")
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == [
        "latest", "model-0002", "model-0003", "previous"]


@pytest.mark.parametrize("point", ["model-built", "model-renamed", "model-previous", "model-latest"])
def test_kill_9_at_each_step_of_the_model_swap(project: Path, point: str) -> None:
    save_model(project, "old")
    assert save_model(project, "new", crash=point) == -signal.SIGKILL
    models = project / "models"
    expected = "old" if point == "model-built" else "new"  # once renamed, the new model is complete
    assert tag_of(modelstore.current(models)) == expected  # readers see it at once, without writing
    Project.open(project)  # the next open tidies up
    assert tag_of(models / "latest") == expected
    assert tag_of(modelstore.previous(models)) == ("old" if expected == "new" else None)
    assert (models / "previous").exists() == (expected == "new")
    assert not list(models.glob(".building-*")) and not list(models.glob(".*.tmp"))
    save_model(project, "retry")
    assert tag_of(models / "latest") == "retry" and tag_of(models / "previous") == expected


def test_a_model_folder_of_an_older_version_is_adopted(project: Path) -> None:
    models = project / "models"
    for name, tag in (("previous", "old"), ("latest", "current")):
        (models / name).mkdir(parents=True)
        (models / name / "metadata.json").write_text(json.dumps({"tag": tag}))
    assert tag_of(modelstore.current(models)) == "current" and tag_of(modelstore.previous(models)) == "old"
    for point in ("model-adopt-previous", "model-adopt-latest"):
        assert save_model(project, "new", crash=point) == -signal.SIGKILL
        assert tag_of(modelstore.current(models)) == "current", point
    save_model(project, "new")
    assert tag_of(models / "latest") == "new" and tag_of(models / "previous") == "current"


# -- the import commit --------------------------------------------------------------------------------


def _samples(root: Path) -> dict[str, list[str]]:
    data = json.loads((root / "project.json").read_text())
    return {c["name"]: sorted(p.name for p in (root / "samples" / c["folder"]).glob("*.wav"))
            for c in data["classes"]}


@pytest.fixture
def imported(tmp_path: Path, upload: Path) -> dict[str, list[str]]:
    """What a clean import of `upload` gives."""
    root = tmp_path / "reference"
    Project.create(root, name="words").add_class("yes")
    assert run("import", root, upload).returncode == 0
    return _samples(root)


@pytest.mark.parametrize("point", ["import-journal", "import-move:1", "import-move:20", "import-project"])
def test_kill_9_during_the_import_commit_is_rolled_forward(project: Path, upload: Path, point: str,
                                                          imported: dict[str, list[str]]) -> None:
    done = run("import", project, upload, env={"EARSHOT_CRASH_AT": point})
    assert done.returncode == -signal.SIGKILL, done.stderr
    info = run("info", project, "--json")  # opening the project finishes the import
    assert info.returncode == 0, info.stderr
    assert {c["name"]: c["samples"] for c in json.loads(info.stdout)["classes"]} == {
        name: len(files) for name, files in imported.items()}
    assert _samples(project) == imported
    assert not [p for p in project.iterdir() if p.name.startswith(".import-") or "journal" in p.name]
    again = run("import", project, upload)  # a retry finds everything there already
    assert again.returncode == 0 and "imported 0 samples" in again.stdout, again.stdout
    assert _samples(project) == imported


def test_kill_9_before_the_commit_point_leaves_nothing_and_a_retry_completes(
        project: Path, upload: Path, imported: dict[str, list[str]]) -> None:
    before = snapshot(project)
    done = run("import", project, upload, env={"EARSHOT_CRASH_AT": "import-staged"})
    assert done.returncode == -signal.SIGKILL
    assert run("info", project).returncode == 0
    after = snapshot(project)
    assert {k: v for k, v in after.items() if not k.startswith(".import-")} == before  # nothing visible
    assert run("import", project, upload).returncode == 0
    assert _samples(project) == imported
    assert not list(project.glob(".import-*"))  # the killed import's staging folder is gone too


@pytest.mark.parametrize("point", ["import-move:1", "import-move:30", "import-project"])
def test_ctrl_c_during_the_import_commit_leaves_the_project_byte_identical(
        project: Path, upload: Path, point: str) -> None:
    before = snapshot(project)
    done = run("import", project, upload, env={"EARSHOT_CRASH_AT": point, "EARSHOT_CRASH_SIGNAL": "INT"})
    assert done.returncode == 130, done.stderr
    assert "unchanged" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(project) == before


def test_a_kill_while_undoing_an_interrupted_import_is_undone_on_the_next_open(
        project: Path, upload: Path) -> None:
    before = snapshot(project)
    # Ctrl-C at the 5th move, then SIGKILL while the moves are being undone: the abort record stays
    code = python(f"""
import os, signal, sys
os.environ["EARSHOT_CRASH_AT"] = "import-move:5"
os.environ["EARSHOT_CRASH_SIGNAL"] = "INT"
from core import importjournal
undo = importjournal._backward
def killed(root, commit):
    os.kill(os.getpid(), signal.SIGKILL)
importjournal._backward = killed
from core.ingest import import_samples
from core.project import Project
import_samples(Project.open({str(project)!r}), [__import__("pathlib").Path({str(upload)!r})])
""")
    assert code.returncode == -signal.SIGKILL, code.stderr
    assert (project / ".earshot-import.aborted").exists()
    assert run("info", project).returncode == 0
    assert snapshot(project) == before


@pytest.mark.parametrize("point", ["import-journal", "import-move:4"])
def test_kill_9_while_extracting_a_recording_keeps_all_its_clips_or_none(project: Path, tmp_path: Path,
                                                                        point: str) -> None:
    import numpy as np
    import soundfile

    take = tmp_path / "take.wav"
    rng = np.random.default_rng(5)
    soundfile.write(take, (rng.standard_normal(16000 * 12) * 0.1).astype(np.float32), 16000, subtype="PCM_16")
    reference = tmp_path / "reference"
    Project.create(reference, name="words").add_class("noise")
    assert run("extract", reference, "noise", take, "--mode", "fixed").returncode == 0
    assert run("class", "add", project, "noise").returncode == 0
    done = run("extract", project, "noise", take, "--mode", "fixed", env={"EARSHOT_CRASH_AT": point})
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert run("info", project).returncode == 0
    assert _samples(project)["noise"] == _samples(reference)["noise"]
    assert len(_samples(project)["noise"]) == 12
