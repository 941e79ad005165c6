"""A flaky machine: a real full disk (tmpfs at 100%), a read-only project (a read-only bind mount),
a second process training the same project, a board that floods bytes, and an internal error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from core import modelstore
from core.project import Project
from tests.hostile.conftest import clip_tree, fill
from tests.hostile.helpers import REPO, assert_one_line_error, run, snapshot


@pytest.fixture
def full_project(tmpfs: Path) -> Path:
    root = tmpfs / "proj"
    Project.create(root, name="words").add_class("yes")
    clip_tree(root / "samples", {"yes": 3})  # a few clips, so that nothing is empty
    fill(tmpfs)
    return root


def test_a_full_disk_is_one_line_and_changes_nothing(full_project: Path, tmp_path: Path, clip: Path) -> None:
    upload = clip_tree(tmp_path / "up", {"yes": 3, "new": 3})
    before = snapshot(full_project)
    for command, word in ((("class", "add", full_project, "go"), "disk full"),
                          (("import", full_project, upload), "disk full"),
                          (("extract", full_project, "yes", clip), "disk full"),
                          (("train", full_project), "disk full"),
                          (("new", full_project.parent / "other"), "disk full"),
                          (("demo", "--dir", full_project.parent / "demo"), "disk full")):
        assert_one_line_error(run(*command), word)
        assert snapshot(full_project) == before, command
    assert sorted(p.name for p in full_project.parent.iterdir()) == ["filler", "proj"]


def test_train_on_a_full_disk_is_refused_before_it_starts(full_project: Path) -> None:
    start = time.monotonic()
    assert_one_line_error(run("train", full_project), "disk full")
    assert time.monotonic() - start < 20  # at the start, not after the epochs (and no TensorFlow)


def test_a_disk_that_fills_up_during_an_import(full_project: Path, upload: Path) -> None:
    filler = full_project.parent / "filler"
    os.truncate(filler, filler.stat().st_size - (300 << 10))  # room for a third of the upload
    before = snapshot(full_project)
    assert_one_line_error(run("import", full_project, upload), "disk full")
    assert snapshot(full_project) == before  # the staged part is gone too


def test_train_with_too_little_room_for_a_model_is_refused_before_it_starts(full_project: Path) -> None:
    filler = full_project.parent / "filler"
    os.truncate(filler, filler.stat().st_size - (1 << 20))  # 1 MB free: room for the lock, not a model
    before = snapshot(full_project)
    assert_one_line_error(run("train", full_project), "MB free", "free some space")
    assert snapshot(full_project) == before


@pytest.fixture
def read_only_project(read_only: tuple[Path, Path], model_folder: Path) -> Path:
    source, view = read_only
    root = source / "proj"
    project = Project.create(root, name="words")
    project.add_class("yes")
    clip_tree(root / "samples", {"yes": 3})
    with project.lock(), modelstore.new_model(project.models_dir) as folder:
        for name in ("model.tflite", "labels.txt", "metadata.json"):
            shutil.copy(model_folder / name, folder / name)
    return view / "proj"


def test_a_read_only_project_can_be_read_but_not_changed(read_only_project: Path, clip: Path,
                                                         tmp_path: Path) -> None:
    root = read_only_project
    before = snapshot(root)
    info = run("info", root, "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["name"] == "words", info.stderr
    predicted = run("predict", root, clip, "--json")
    assert predicted.returncode == 0, predicted.stderr
    listened = run("listen", root, "--input", clip, "--speed", "0", "--json")
    assert listened.returncode == 0 and "Traceback" not in listened.stderr, listened.stderr
    evaluated = run("eval", root)  # reads the model and its (empty) test split; never writes
    assert "Traceback" not in evaluated.stderr, evaluated.stderr
    for command in (("class", "add", root, "go"), ("import", root, clip, "--class", "yes"),
                    ("extract", root, "yes", clip), ("train", root)):
        assert_one_line_error(run(*command), "read-only")
    assert_one_line_error(run("export", root), "read-only", "-o")
    assert snapshot(root) == before


def test_a_second_train_is_refused_at_the_start(project: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom core.project import Project\n"
         f"with Project.open({str(project)!r}).lock():\n print('locked', flush=True)\n time.sleep(60)"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        assert_one_line_error(run("train", project), "being changed", f"pid {holder.pid}")
        assert time.monotonic() - start < 20
    finally:
        holder.kill()
        holder.wait()


def test_flashing_a_port_that_floods_bytes_respects_the_timeout(tmp_path: Path) -> None:
    model = tmp_path / "m.zip"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("model_int8.tflite", b"\0" * 100)
        archive.writestr("labels.txt", "a\nb\n")
        archive.writestr("metadata.json", json.dumps({"project": "words"}))
    controller, device = os.openpty()
    stop = threading.Event()

    def flood() -> None:
        garbage = bytes(range(32, 127)) * 40
        while not stop.is_set():
            try:
                os.write(controller, garbage)
            except OSError:
                time.sleep(0.01)

    def drain() -> None:  # what earshot writes to the "board" is read and dropped
        while not stop.is_set():
            try:
                os.read(controller, 65536)
            except OSError:
                time.sleep(0.01)

    threading.Thread(target=flood, daemon=True).start()
    threading.Thread(target=drain, daemon=True).start()
    try:
        start = time.monotonic()
        done = run("flash", model, "--port", os.ttyname(device), "--timeout", "2", timeout=60)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        os.close(device)
        time.sleep(0.05)
        os.close(controller)
    assert_one_line_error(done, "the board on")
    assert "stream of data" in done.stderr or "did not answer" in done.stderr
    assert elapsed < 15, elapsed


def test_an_internal_error_is_one_line_unless_debugging(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from earshot import cli
    from earshot.commands import project as commands

    def broken(_args: object) -> int:
        raise ValueError("something unexpected")

    monkeypatch.setattr(commands, "cmd_info", broken)
    monkeypatch.delenv("EARSHOT_DEBUG", raising=False)
    assert cli.main(["info", str(project)]) == cli.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("earshot: error: internal error: ValueError")
    assert "please report" in err and "Traceback" not in err
    monkeypatch.setenv("EARSHOT_DEBUG", "1")
    assert cli.main(["info", str(project)]) == cli.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("earshot: error: internal error")


def test_a_project_without_write_permission_can_be_read_but_not_changed(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run earshot as another user")
    shared = Path(tempfile.mkdtemp(prefix="earshot-perm-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        root = shared / "proj"
        Project.create(root, name="words").add_class("yes")
        home = shared / "home"
        home.mkdir()
        home.chmod(0o777)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
        probe = subprocess.run([*nobody, "-c", "import earshot.cli"], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home)}, cwd="/")
        if probe.returncode != 0:
            pytest.skip(f"another user cannot run this checkout: {probe.stderr.strip()[-200:]}")
        before = snapshot(root)

        def as_nobody(*args: object) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*nobody, "-m", "earshot", *map(str, args)], capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home)}, cwd="/",
                                  timeout=120)

        assert as_nobody("info", root).returncode == 0
        for command in (("class", "add", root, "go"), ("train", root),
                        ("import", root, root, "--class", "yes")):
            assert_one_line_error(as_nobody(*command), "no write permission")
        assert_one_line_error(as_nobody("export", root), "permission denied", "-o")
        assert snapshot(root) == before
    finally:
        shutil.rmtree(shared, ignore_errors=True)
