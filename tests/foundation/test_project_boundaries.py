"""Where the project meets other writers: threads of one process, a second window, repeated removals."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

import pytest

from core.errors import ProjectError, ProjectLockedError
from core.project import LOCK_FILE, PROJECT_FILE, Project
from core.projectlock import ProjectLock
from core.spec import AudioSpec
from tests.foundation.helpers import tone


def _file_lock_is_held(root: Path) -> bool:
    """Whether some open file holds the flock on the project's lock file (tried from a fresh fd)."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_thread_that_overlaps_another_gets_its_own_file_lock(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path)
    a_in, b_trying, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with lock.hold():
            a_in.set()
            b_trying.wait(5)
            time.sleep(0.2)  # B asks while A holds; A leaves first
        a_out.set()

    def second() -> None:
        a_in.wait(5)
        b_trying.set()
        with lock.hold():
            a_out.wait(5)  # before the fix, B nested in A's hold and A's exit dropped the file lock
            seen["b holds the file lock"] = _file_lock_is_held(tmp_path)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"b holds the file lock": True}
    assert lock.depth == 0 and not _file_lock_is_held(tmp_path)
    acquired: list[bool] = []
    with lock.hold(on_acquire=lambda: acquired.append(True)):  # a later hold is a real one again
        assert _file_lock_is_held(tmp_path)
    assert acquired == [True]


def test_a_thread_waits_for_the_lock_at_most_its_deadline(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path, wait_seconds=0.2)
    a_in, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.hold():
            a_in.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        a_in.wait(5)
        started = time.monotonic()
        with pytest.raises(ProjectLockedError, match="another task"):
            with lock.hold():
                pass
        assert 0.15 < time.monotonic() - started < 2
    finally:
        release.set()
        thread.join(5)
    with lock.hold():  # free again once the holder is done
        assert lock.depth == 1


def test_the_main_thread_is_refused_soon_and_a_worker_waits_for_a_short_hold(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path)  # the deadlines by thread
    held, release = threading.Event(), threading.Event()
    took: list[float] = []

    def holder() -> None:
        with lock.hold():
            held.set()
            release.wait(5)

    def worker() -> None:  # a model save during an Upload: waits instead of failing
        started = time.monotonic()
        with lock.hold():
            took.append(time.monotonic() - started)

    threads = [threading.Thread(target=holder), threading.Thread(target=worker)]
    threads[0].start()
    held.wait(5)
    threads[1].start()
    try:
        started = time.monotonic()
        with pytest.raises(ProjectLockedError, match="another task of this earshot"):
            with lock.hold():  # the app's screen is not frozen for long
                pass
        assert 0.9 < time.monotonic() - started < 3
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert len(took) == 1 and took[0] > 0.9


def test_removing_a_class_twice_in_one_second_keeps_both_in_the_trash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "strftime", lambda *_: "20260101-120000")  # both removals in one second
    project = Project.create(tmp_path / "p", audio=AudioSpec(8000, 0.5))
    first = project.add_class("dog")
    project.add_clips(first, [tone(0.5, freq=300, sr=8000)], prefix="bark")
    first_trash = project.remove_class("dog")
    second = project.add_class("dog")
    project.add_clips(second, [tone(0.5, freq=900, sr=8000)], prefix="bark")
    second_trash = project.remove_class("dog")
    assert first_trash.name == "20260101-120000-dog" and second_trash.name == "20260101-120000-dog-2"
    for trash, info in ((first_trash, first), (second_trash, second)):
        assert len(list((trash / "samples").glob("*.wav"))) == 1
        assert json.loads((trash / "class.json").read_text())["id"] == info.id
    assert [c.name for c in Project.open(tmp_path / "p").classes] == ["Background Noise"]


def test_a_failed_removal_removes_only_its_own_trash_folder(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "strftime", lambda *_: "20260101-120000")
    project = Project.create(tmp_path / "p", audio=AudioSpec(8000, 0.5))
    dog = project.add_class("dog")
    project.add_clips(dog, [tone(0.5, sr=8000)], prefix="bark")
    earlier = project.remove_class("dog")
    dog = project.add_class("dog")
    project.add_clips(dog, [tone(0.5, freq=900, sr=8000)], prefix="bark")
    monkeypatch.setattr("core.atomic.write_json", _fail_write)  # class.json cannot be written
    with pytest.raises(Exception, match="disk"):
        project.remove_class("dog")
    assert len(list((earlier / "samples").glob("*.wav"))) == 1  # the earlier class is still there
    assert project.sample_count(project.get_class("dog")) == 1  # and this one is back in place
    assert not (tmp_path / "p/trash/20260101-120000-dog-2").exists()


def _fail_write(*_: object, **__: object) -> None:
    raise OSError(28, "No space left on device (disk full, for the test)")


def test_deleting_samples_of_one_name_twice_keeps_both_in_the_trash(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", audio=AudioSpec(8000, 0.5))
    dog = project.add_class("dog")
    clip = tone(0.5, sr=8000)
    [path] = project.add_clips(dog, [clip], prefix="bark")
    first = project.delete_sample(path)
    [again] = project.add_clips(dog, [clip], prefix="bark")
    assert again.name == path.name  # the same clip again: the same file name
    second = project.delete_sample(again)
    assert first != second and first.is_file() and second.is_file()
    assert second.name == f"{path.stem}-2.wav" and first.read_bytes() == second.read_bytes()


def test_a_change_in_one_window_keeps_what_another_saved_meanwhile(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").add_class("dog")
    app, cli = Project.open(tmp_path / "p"), Project.open(tmp_path / "p")
    cat = cli.add_class("cat")
    app.rename_class("dog", "hound")  # the app's copy predates "cat"
    owl = app.add_class("owl")
    app.set_settings("push", {"topic": "lab/ears"})
    on_disk = json.loads((tmp_path / "p" / PROJECT_FILE).read_text())
    assert [c["name"] for c in on_disk["classes"]] == ["Background Noise", "hound", "cat", "owl"]
    assert owl.id != cat.id and len({c["folder"] for c in on_disk["classes"]}) == 4
    assert on_disk["settings"]["push"] == {"topic": "lab/ears"}
    assert [c.name for c in app.classes] == ["Background Noise", "hound", "cat", "owl"]
    cli.remove_class("hound")
    with pytest.raises(ProjectError, match="no class named 'hound'"):
        app.rename_class("hound", "dog")
    assert [c.name for c in Project.open(tmp_path / "p").classes] == ["Background Noise", "cat", "owl"]
