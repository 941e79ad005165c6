"""Hostile input through the real command line: each is exit code 1 (2 for usage), exactly one
`earshot: error:` line with a hint, no traceback, and the project's files byte-identical."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.project import Project
from tests.hostile.conftest import clip_tree
from tests.hostile.helpers import assert_one_line_error, run, snapshot

# -- archives -------------------------------------------------------------------------------------


def test_a_zip_whose_deflate_data_is_corrupt(project: Path, tmp_path: Path, upload: Path) -> None:
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for wav in sorted(upload.rglob("*.wav"))[:3]:
            out.write(wav, str(wav.relative_to(upload)))
    with zipfile.ZipFile(archive) as zipped:
        info = zipped.infolist()[1]
    data = bytearray(archive.read_bytes())
    name_len, extra_len = (int.from_bytes(data[info.header_offset + k:info.header_offset + k + 2], "little")
                           for k in (26, 28))
    start = info.header_offset + 30 + name_len + extra_len
    data[start] = 0xFF  # a deflate block of the reserved type 3: zlib.error, not a CRC mismatch
    archive.write_bytes(bytes(data))
    before = snapshot(project)
    assert_one_line_error(run("import", project, archive), "damaged", "broken.zip")
    assert snapshot(project) == before


def test_zip_folders_that_differ_only_in_case_are_one_class(project: Path, tmp_path: Path) -> None:
    trees = clip_tree(tmp_path / "cases", {"Dog": 3, "dog": 3})
    archive = tmp_path / "dogs.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for wav in sorted(trees.rglob("*.wav")):
            out.write(wav, str(wav.relative_to(trees)))
    done = run("import", project, archive)
    assert done.returncode == 0, done.stderr
    classes = {c.name: Project.open(project).sample_count(c) for c in Project.open(project).classes}
    assert classes == {"Background Noise": 0, "yes": 0, "Dog": 6}


# -- project.json edited by hand or merged -----------------------------------------------------------

Edit = Callable[[dict[str, Any]], Any]

EDITS: dict[str, Edit] = {
    "sample rate 16k": lambda d: d.update(sample_rate="16k"),
    "sample rate 0": lambda d: d.update(sample_rate=0),
    "sample rate negative": lambda d: d.update(sample_rate=-16000),
    "clip seconds -1": lambda d: d.update(clip_seconds=-1),
    "clip seconds nan": lambda d: d.update(clip_seconds=float("nan")),
    "no classes": lambda d: d.pop("classes"),
    "classes not a list": lambda d: d.update(classes="yes,no"),
    "a class without a folder": lambda d: d["classes"][1].pop("folder"),
    "a class folder outside": lambda d: d["classes"][1].update(folder="../../outside"),
    "an absolute class folder": lambda d: d["classes"][1].update(folder="/tmp"),
    "a class listed twice": lambda d: d["classes"].append(dict(d["classes"][1])),
    "an unknown schema": lambda d: d.update(schema="one"),
    "a newer schema": lambda d: d.update(schema=99),
    "training epochs text": lambda d: d["training"].update(epochs="fifty"),
    "settings not an object": lambda d: d.update(settings=[]),
    "not an object": lambda d: [d],
}


def _edit(root: Path, edit: Edit) -> None:
    data = json.loads((root / "project.json").read_text())
    replaced = edit(data)
    (root / "project.json").write_text(json.dumps(replaced if isinstance(replaced, list) else data))


@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_hand_edited_project_json(project: Path, upload: Path, case: str) -> None:
    _edit(project, EDITS[case])
    before = snapshot(project)
    commands: list[tuple[object, ...]] = [("info", project), ("import", project, upload)]
    if case in ("sample rate 0", "a class folder outside", "training epochs text"):
        commands += [("class", "add", project, "go"), ("train", project)]
    for command in commands:
        assert_one_line_error(run(*command), "project.json" if case != "a newer schema" else "newer")
    assert snapshot(project) == before


def test_project_json_a_folder_or_truncated(project: Path) -> None:
    text = (project / "project.json").read_text()
    (project / "project.json").write_text(text[: len(text) // 2])
    assert_one_line_error(run("info", project), "damaged")
    (project / "project.json").unlink()
    (project / "project.json").mkdir()
    assert_one_line_error(run("info", project), "is a folder")


def test_a_class_folder_pointing_outside_is_never_written_or_moved(project: Path, tmp_path: Path,
                                                                   upload: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "precious.txt").write_text("mine")
    _edit(project, EDITS["a class folder outside"])
    assert_one_line_error(run("import", project, upload / "yes", "--class", "yes"), "outside")
    assert_one_line_error(run("class", "remove", project, "yes"), "outside")
    assert sorted(str(p.relative_to(outside)) for p in outside.rglob("*")) == ["keep", "keep/precious.txt"]
    assert not (project / "trash").exists() or not any((project / "trash").iterdir())


# -- model files --------------------------------------------------------------------------------------

MODEL_DAMAGE: dict[str, Callable[[Path], None]] = {
    "no audio": lambda f: _meta(f, lambda m: m.pop("audio")),
    "no features": lambda f: _meta(f, lambda m: m.pop("features")),
    "sample rate 0": lambda f: _meta(f, lambda m: m["audio"].update(sample_rate=0)),
    "n_mels text": lambda f: _meta(f, lambda m: m["features"].update(n_mels="forty")),
    "metadata not json": lambda f: (f / "metadata.json").write_text("{\"labels\": ["),
    "truncated model": lambda f: (f / "model.tflite").write_bytes((f / "model.tflite").read_bytes()[:5000]),
    "model of zeros": lambda f: (f / "model.tflite").write_bytes(bytes(2000)),
    "labels do not match": lambda f: (f / "labels.txt").write_text("one\n"),
    "a test clip outside": lambda f: _meta(f, lambda m: m.update(
        test_split=[{"file": "../../etc/passwd", "label": "yes"}])),
    "empty head": lambda f: _ear_head(f, b""),
    "head not a zip": lambda f: _ear_head(f, b"PK\x03\x04" + bytes(100)),
}


def _ear_head(folder: Path, head: bytes) -> None:
    """Make the folder a speech-ear model whose head.npz holds `head` (np.load: EOFError, BadZipFile)."""
    _meta(folder, lambda m: m.setdefault("model", {}).update(kind="speech"))
    (folder / "head.npz").write_bytes(head)


def _meta(folder: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    data = json.loads((folder / "metadata.json").read_text())
    change(data)
    (folder / "metadata.json").write_text(json.dumps(data))


def test_the_tiny_model_predicts(model_folder: Path, clip: Path) -> None:
    done = run("predict", model_folder, clip, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0])["label"] in ("Background Noise", "yes")


@pytest.mark.parametrize("case", sorted(MODEL_DAMAGE))
def test_a_damaged_model_says_train_again(model_folder: Path, clip: Path, tmp_path: Path, case: str) -> None:
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder)
    MODEL_DAMAGE[case](folder)
    done = run("predict", folder, clip)
    assert_one_line_error(done, "train again")
    assert str(folder) in done.stderr  # which model is damaged


# -- arguments ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("train", "{p}", "--seed", "-1"),
    ("train", "{p}", "--epochs", "0"),
    ("train", "{p}", "--learning-rate", "nan"),
    ("listen", "{p}", "--seconds", "nan"),
    ("listen", "{p}", "--seconds", "inf"),
    ("listen", "{p}", "--hop", "nan"),
    ("listen", "{p}", "--threshold", "inf"),
    ("record", "{p}", "yes", "--seconds", "nan"),
    ("record", "{p}", "yes", "--seconds", "-5"),
    ("new", "{p}2", "--sample-rate", "0"),
    ("flash", "m.zip", "--port", "/dev/null", "--timeout", "inf"),
    ("deploy", "{p}", "ssh://pi@192.0.2.1", "--threshold", "5"),
    ("deploy", "{p}", "ssh://pi@192.0.2.1", "--smooth", "0"),
    ("deploy", "{p}", "ssh://pi@192.0.2.1", "--hop", "0"),
    ("deploy", "{p}", "ssh://pi@192.0.2.1", "--wait", "nan"),
])
def test_out_of_range_arguments_are_refused_while_parsing(project: Path, args: tuple[str, ...]) -> None:
    before = snapshot(project)
    assert_one_line_error(run(*[a.format(p=project) for a in args]), "argument")
    assert snapshot(project) == before


@pytest.mark.parametrize("url", ["mqtt://h:abc/t", "mqtt://h:99999/t", "http://h/t", "mqtt://h/a/#"])
def test_flash_with_a_bad_broker_address(tmp_path: Path, url: str) -> None:
    done = run("flash", tmp_path / "m.zip", "--port", "/dev/null", "--mqtt", url)
    assert_one_line_error(done)


# -- audio files --------------------------------------------------------------------------------------

def _sparse_wav(path: Path, gigabytes: float) -> Path:
    """A WAV whose header and size say `gigabytes` of 16 kHz audio, without using the disk."""
    size = int(gigabytes * 1e9)
    header = (b"RIFF" + (min(size, 2**32 - 1) - 8).to_bytes(4, "little") + b"WAVEfmt "
              + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
              + (16000).to_bytes(4, "little") + (32000).to_bytes(4, "little") + (2).to_bytes(2, "little")
              + (16).to_bytes(2, "little") + b"data" + (min(size - 44, 2**32 - 1)).to_bytes(4, "little"))
    with open(path, "wb") as handle:
        handle.write(header)
        handle.truncate(size)
    return path


def test_a_6_gb_sparse_wav_is_refused_from_its_size(project: Path, tmp_path: Path) -> None:
    big = _sparse_wav(tmp_path / "big.wav", 6.0)
    before = snapshot(project)
    assert_one_line_error(run("import", project, big, "--class", "yes"), "too large")
    assert_one_line_error(run("extract", project, "yes", big), "too large")
    folder = tmp_path / "folder" / "yes"
    folder.mkdir(parents=True)
    os.link(big, folder / "big.wav")
    assert_one_line_error(run("import", project, folder.parent), "too large")
    assert snapshot(project) == before


def test_a_long_recording_is_refused_from_its_header(project: Path, tmp_path: Path) -> None:
    long = _sparse_wav(tmp_path / "long.wav", 0.2)  # 200 MB: under the size limit, 104 minutes long
    assert_one_line_error(run("extract", project, "yes", long), "too long")


def test_a_fifo_in_an_imported_folder_is_skipped_not_waited_for(project: Path, upload: Path) -> None:
    os.mkfifo(upload / "yes" / "pipe.wav")
    done = run("import", project, upload, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "pipe.wav: not a regular file" in done.stderr
    assert Project.open(project).sample_count(Project.open(project).get_class("yes")) == 12
    before = snapshot(project)
    assert_one_line_error(run("import", project, upload / "yes" / "pipe.wav", "--class", "yes", timeout=60),
                          "not a regular file")
    assert snapshot(project) == before
