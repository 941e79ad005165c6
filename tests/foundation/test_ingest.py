"""Getting audio in and out: extract_recording, imports (all or nothing) and sample zips."""

from __future__ import annotations

import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from core.audio import load, quantize, resample, wav_bytes
from core.errors import EarshotError, ProjectLockedError, SampleImportError
from core.ingest import extract_recording, import_samples
from core.project import Project
from core.samplezip import MANIFEST, ZipLimits, export_samples
from core.spec import BACKGROUND_NOISE
from tests.foundation.helpers import SR, bursts, make_zip, tone, tree_digest, wav_tree, write_wav


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "p")


def wav(freq: float = 440.0, seconds: float = 1.0) -> bytes:
    return wav_bytes(tone(seconds, freq=freq, amplitude=0.3), SR)


# -- extract_recording -----------------------------------------------------------------------


def test_extract_recording_keeps_the_recording_first_then_stores_clips(project: Project, rng) -> None:
    word = project.add_class("yes")
    y = bursts([2.0, 5.0, 9.0, 14.0], noise=0.001, rng=rng)
    result = extract_recording(project, word, y, label="take one")
    assert result.recording is not None and result.recording.parent == project.recordings_dir(word)
    np.testing.assert_array_equal(load(result.recording, SR), quantize(y))
    assert len(result.paths) == 4 and project.samples(word) == sorted(result.paths)
    for path, clip in zip(result.paths, result.clips, strict=True):
        np.testing.assert_array_equal(load(path, SR), clip)
    again = extract_recording(project, word, load(result.recording, SR))  # re-cutting the kept file
    assert again.duplicates == 4 and project.sample_count(word) == 4


def test_extract_recording_defaults_fixed_for_background_noise(project: Project, rng) -> None:
    noise = (rng.standard_normal(20 * SR) * 0.01).astype(np.float32)
    result = extract_recording(project, project.get_class(BACKGROUND_NOISE), noise)
    assert result.mode == "fixed" and len(result.paths) == 20


def test_a_recording_with_nothing_in_it_is_still_kept(project: Project) -> None:
    word = project.add_class("yes")
    result = extract_recording(project, word, np.zeros(20 * SR, np.float32))
    assert result.clips == [] and result.recording is not None and result.recording.exists()


# -- imports ---------------------------------------------------------------------------------


def test_folder_tree_labels_become_classes(project: Project, tmp_path: Path, rng) -> None:
    root = wav_tree(tmp_path / "upload", {"yes": 3, "no": 2, BACKGROUND_NOISE: 2}, rng)
    (root / "yes" / "notes.txt").write_text("hello")
    (root / "no" / ".DS_Store").write_bytes(b"\0\0")
    report = import_samples(project, [root])
    assert report.added == {"yes": 3, "no": 2, BACKGROUND_NOISE: 2}
    assert sorted(report.created) == ["no", "yes"] and len(report.skipped) == 2
    assert any("notes.txt" in line for line in report.skipped)
    assert [c.name for c in project.classes] == [BACKGROUND_NOISE, *report.created]


def test_a_wrapping_folder_is_not_a_class(project: Project, tmp_path: Path, rng) -> None:
    wav_tree(tmp_path / "upload" / "my data", {"up": 2, "down": 2}, rng)
    report = import_samples(project, [tmp_path / "upload"])
    assert report.added == {"up": 2, "down": 2}


def test_class_option_puts_everything_in_one_existing_class(project: Project, tmp_path: Path, rng) -> None:
    root = wav_tree(tmp_path / "upload", {"a": 2, "b": 2}, rng)
    project.add_class("Go")
    report = import_samples(project, [root], class_name="go")
    assert report.added == {"Go": 4} and report.created == []
    with pytest.raises(SampleImportError, match="no class named 'stop'") as info:
        import_samples(project, [root], class_name="stop")
    assert "earshot class add" in str(info.value.hint)


def test_loose_files_need_a_class_and_must_be_audio(project: Project, tmp_path: Path) -> None:
    clip = write_wav(tmp_path / "one.wav", tone(1.0))
    with pytest.raises(SampleImportError, match="--class"):
        import_samples(project, [clip])
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all " * 50)
    before = tree_digest(project.root)
    with pytest.raises(EarshotError, match="notes.wav"):
        import_samples(project, [clip, text], class_name=BACKGROUND_NOISE)
    assert tree_digest(project.root) == before


def test_clip_length_files_stored_unchanged_long_ones_extracted(project: Project, tmp_path: Path,
                                                                 rng) -> None:
    project.add_class("yes")
    exact = quantize(tone(1.0, amplitude=0.25))
    write_wav(tmp_path / "up" / "yes" / "exact.wav", exact)
    long = bursts([2.0, 6.0, 10.0], seconds=12.0, noise=1e-3, rng=rng)
    write_wav(tmp_path / "up" / "yes" / "long.wav", long)
    report = import_samples(project, [tmp_path / "up"])
    assert report.added == {"yes": 4} and report.recordings == 1
    assert any("long.wav: 3 clips" in note for note in report.notes)
    stored = [load(p, SR) for p in project.samples(project.get_class("yes"))]
    assert any(np.array_equal(s, exact) for s in stored)
    assert len(project.recordings(project.get_class("yes"))) == 1


def test_fsdd_8khz_clips_are_resampled_and_padded(project: Project, dataset_files) -> None:
    f = next(f for f in dataset_files if f.dataset == "fsdd")
    raw, sr = soundfile.read(f.path, dtype="float32")
    assert sr == 8000 and raw.size < 8000
    project.add_class("digit")
    import_samples(project, [f.path], class_name="digit")
    (path,) = project.samples(project.get_class("digit"))
    clip = load(path, SR)
    assert clip.size == SR
    expected = quantize(resample(raw, 8000, SR))
    pad = (SR - expected.size) // 2
    np.testing.assert_array_equal(clip[pad : pad + expected.size], expected)
    assert not clip[:pad].any() and not clip[pad + expected.size :].any()


def test_a_speech_commands_clip_round_trips_through_export_and_import(tmp_path: Path, dataset_files) -> None:
    f = next(f for f in dataset_files
             if f.dataset == "speech_commands" and soundfile.info(f.path).frames == SR)
    original, _ = soundfile.read(f.path, dtype="int16")
    first = Project.create(tmp_path / "first")
    first.add_class(f.label)
    import_samples(first, [f.path], class_name=f.label)
    export = export_samples(first, tmp_path / "out.zip")
    second = Project.create(tmp_path / "second")
    report = import_samples(second, [export.path])
    assert report.created == [f.label]
    (path,) = second.samples(second.get_class(f.label))
    stored, sr = soundfile.read(path, dtype="int16")
    assert sr == SR
    np.testing.assert_array_equal(stored, original)


def test_export_then_import_gives_identical_clips_and_class_names(tmp_path: Path, rng) -> None:
    first = Project.create(tmp_path / "first")
    wav_tree(tmp_path / "up", {"Käse & Brot": 3, "yes/no".replace("/", " or "): 2, BACKGROUND_NOISE: 4}, rng)
    import_samples(first, [tmp_path / "up"])
    export = export_samples(first, tmp_path / "all.zip")
    assert export.counts == {BACKGROUND_NOISE: 4, "Käse & Brot": 3, "yes or no": 2}
    with zipfile.ZipFile(export.path) as archive:
        assert MANIFEST in archive.namelist() and "Käse & Brot/" in archive.namelist()
    second = Project.create(tmp_path / "second")
    import_samples(second, [export.path])
    assert [c.name for c in second.classes] == [c.name for c in first.classes]
    assert tree_digest(second.root / "samples") == tree_digest(first.root / "samples")
    again = import_samples(second, [export.path])
    assert again.total == 0 and again.duplicates == 9


def test_export_one_class_and_nothing_to_export(project: Project, tmp_path: Path, rng) -> None:
    import_samples(project, [wav_tree(tmp_path / "up", {"a": 2, "b": 1}, rng)])
    one = export_samples(project, tmp_path / "a.zip", classes=["A"])
    with zipfile.ZipFile(one.path) as archive:
        assert sorted(n.split("/")[0] for n in archive.namelist() if n.endswith(".wav")) == ["a", "a"]
    with pytest.raises(SampleImportError, match="nothing to export"):
        export_samples(project, tmp_path / "bg.zip", classes=[BACKGROUND_NOISE])
    assert not (tmp_path / "bg.zip").exists()


# -- hostile and broken input: refused, project untouched ---------------------------------------


def _symlink_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("yes/a.wav", wav())
        link = zipfile.ZipInfo("yes/link.wav")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return path


def _encrypted_zip(path: Path) -> Path:
    data = bytearray(make_zip(path, {"yes/a.wav": wav()}).read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_at
        data[at] |= 0x1
    path.write_bytes(bytes(data))
    return path


def _corrupt_member_zip(path: Path) -> Path:
    data = bytearray(make_zip(path, {"yes/a.wav": wav(), "yes/b.wav": wav(300)}).read_bytes())
    start = data.index(b"PK\x03\x04", 10) - 200  # inside the first member's compressed data
    data[start : start + 40] = bytes(40)
    path.write_bytes(bytes(data))
    return path


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


HOSTILE = {
    "traversal": (lambda p: make_zip(p, {"yes/a.wav": wav(), "../../evil.wav": wav(300)}), "outside"),
    "nested traversal": (lambda p: make_zip(p, {"yes/../../x/evil.wav": wav()}), "outside"),
    "backslash traversal": (lambda p: make_zip(p, {"yes\\..\\..\\evil.wav": wav()}), "outside"),
    "absolute": (lambda p: make_zip(p, {"yes/a.wav": wav(), "/tmp/evil.wav": wav(300)}), "absolute"),
    "drive letter": (lambda p: make_zip(p, {"C:/evil/yes.wav": wav()}), "absolute"),
    "symlink": (_symlink_zip, "symbolic link"),
    "encrypted": (_encrypted_zip, "encrypted"),
    "garbage": (lambda p: _written(p, b"PK\x03\x04 definitely not a zip" * 10), "not a readable zip"),
    "truncated": (lambda p: _written(p, make_zip(p, {"yes/a.wav": wav()}).read_bytes()[:300]),
                  "not a readable zip"),
    "corrupt member": (_corrupt_member_zip, "damaged"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_broken_zips_are_refused_and_change_nothing(project: Project, tmp_path: Path,
                                                              case: str) -> None:
    build, message = HOSTILE[case]
    source = build(tmp_path / f"{case.replace(' ', '-')}.zip")
    before = tree_digest(project.root)
    outside = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SampleImportError, match=message) as info:
        import_samples(project, [source])
    assert "\n" not in str(info.value) and info.value.hint
    assert tree_digest(project.root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert not (tmp_path.parent / "evil.wav").exists()


def test_zip_bomb_limits(project: Project, tmp_path: Path) -> None:
    many = make_zip(tmp_path / "many.zip", {f"yes/{i}.wav": wav(200 + i) for i in range(5)})
    with pytest.raises(SampleImportError, match="entries"):
        import_samples(project, [many], limits=ZipLimits(max_files=4))
    with pytest.raises(SampleImportError, match="zip bomb"):
        import_samples(project, [many], limits=ZipLimits(max_total_bytes=100_000))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("yes/x.wav", "w") as out:
        zeros = bytes(1 << 20)
        for _ in range(300):
            out.write(zeros)
    assert bomb.stat().st_size < 1_000_000  # 300 MB packed into well under 1 MB
    with pytest.raises(SampleImportError, match="MB per file"):
        import_samples(project, [bomb])
    assert project.sample_count(project.classes[0]) == 0 and len(project.classes) == 1


def test_a_lying_size_header_is_caught(project: Project, tmp_path: Path) -> None:
    data = bytearray(make_zip(tmp_path / "lie.zip", {"yes/a.wav": wav(seconds=3.0)}).read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")  # declared uncompressed size
    (tmp_path / "lie.zip").write_bytes(bytes(data))
    with pytest.raises(SampleImportError, match="damaged"):
        import_samples(project, [tmp_path / "lie.zip"])


def test_non_audio_members_are_skipped_and_listed(project: Project, tmp_path: Path) -> None:
    source = make_zip(tmp_path / "mixed.zip", {
        "yes/a.wav": wav(), "yes/readme.txt": b"hi", "__MACOSX/yes/._a.wav": b"\0" * 10,
        "yes/broken.wav": b"RIFF nonsense", "no/b.flac": b"not flac"})
    report = import_samples(project, [source])
    assert report.added == {"yes": 1} and report.created == ["yes"]
    assert len(report.skipped) == 4
    assert any("broken.wav" in s for s in report.skipped) and any("readme.txt" in s for s in report.skipped)
    assert not project.has_class("no")  # a class with nothing readable is not created


def test_a_zip_of_only_non_audio_is_an_error(project: Project, tmp_path: Path) -> None:
    source = make_zip(tmp_path / "docs.zip", {"a/readme.txt": b"hi", "b/c.pdf": b"%PDF"})
    with pytest.raises(SampleImportError, match="no audio files"):
        import_samples(project, [source])


def test_symlinks_in_folders_are_not_followed(project: Project, tmp_path: Path, rng) -> None:
    root = wav_tree(tmp_path / "up", {"yes": 2}, rng)
    secret = write_wav(tmp_path / "elsewhere" / "secret.wav", tone(1.0, freq=999))
    (root / "yes" / "link.wav").symlink_to(secret)
    (root / "linked").symlink_to(tmp_path / "elsewhere")
    report = import_samples(project, [root])
    assert report.added == {"yes": 2} and sum("symbolic link" in s for s in report.skipped) == 2


def test_cancel_adds_nothing(project: Project, tmp_path: Path, rng) -> None:
    root = wav_tree(tmp_path / "up", {"yes": 6}, rng)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int, label: str) -> None:
        seen.append(done)
        if done == 3:
            cancel.set()

    before = tree_digest(project.root)
    with pytest.raises(SampleImportError, match="cancelled"):
        import_samples(project, [root], on_progress=progress, cancel=cancel)
    assert seen == [1, 2, 3] and tree_digest(project.root) == before


def test_import_is_refused_while_another_process_writes(project: Project, tmp_path: Path, rng) -> None:
    import subprocess
    import sys

    from tests.foundation.test_project import HOLD_LOCK, REPO

    root = wav_tree(tmp_path / "up", {"yes": 2}, rng)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(project.root)], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ProjectLockedError):
            import_samples(project, [root])
    finally:
        holder.communicate("", timeout=10)
    assert not project.has_class("yes")


def test_import_onto_a_full_disk_is_one_error_and_changes_nothing(tiny_disk: Path, tmp_path: Path,
                                                                  rng) -> None:
    project = Project.create(tiny_disk / "p")
    project.add_class("yes")
    before = tree_digest(project.root)
    root = wav_tree(tmp_path / "up", {"yes": 20, "no": 20}, rng)  # 40 x 32 kB > 1 MB
    with pytest.raises(EarshotError, match="disk full") as info:
        import_samples(project, [root])
    assert "\n" not in str(info.value)
    assert tree_digest(project.root) == before
    assert [p.name for p in project.root.iterdir() if p.name.startswith(".import")] == []


def test_mp3_and_flac_members_of_a_zip_are_imported(project: Project, tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    source = write_wav(tmp_path / "beep.wav", tone(2.2, amplitude=0.3))
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), str(tmp_path / "beep.mp3")], check=True)
    soundfile.write(tmp_path / "short.flac", tone(0.6, freq=300, amplitude=0.3), 44100)
    upload = make_zip(tmp_path / "mixed.zip", {"beeps/beep.mp3": (tmp_path / "beep.mp3").read_bytes(),
                                               "beeps/short.flac": (tmp_path / "short.flac").read_bytes()})
    report = import_samples(project, [upload])
    assert report.files == 2 and report.recordings == 1  # the MP3 is longer than a clip: kept and cut
    assert report.added == {"beeps": 3}  # a steady 2.2 s tone: 2 fixed windows + the padded FLAC


def test_export_onto_a_full_disk_leaves_no_partial_zip(tiny_disk: Path, tmp_path: Path, rng) -> None:
    project = Project.create(tmp_path / "p")
    import_samples(project, [wav_tree(tmp_path / "up", {"yes": 80}, rng)])  # 2.6 MB of clips
    with pytest.raises(EarshotError, match="disk full"):
        export_samples(project, tiny_disk / "out.zip")
    assert list(tiny_disk.iterdir()) == []
