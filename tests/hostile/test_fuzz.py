"""Any single corrupted byte of project.json or a model's metadata.json: the command line answers with
its normal output or one `earshot: error:` line, never a traceback or an internal error."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.project import Project
from earshot import cli

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _corrupt(path: Path, original: bytes, position: int, value: int) -> None:
    data = bytearray(original)
    data[position % len(data)] = value
    path.write_bytes(bytes(data))


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def pristine() -> Path:
    root = Path(tempfile.mkdtemp(prefix="earshot-fuzz-")) / "proj"
    project = Project.create(root, name="words")
    project.add_class("yes")
    project.set_settings("push", {"host": "lab-pc", "port": 1883, "topic": "siot/words"})
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)


@FUZZ
@given(position=st.integers(min_value=0, max_value=10_000), value=st.integers(min_value=0, max_value=255))
def test_any_byte_of_project_json(pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  position: int, value: int) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "proj"
    shutil.copytree(pristine, root)
    _corrupt(root / "project.json", (pristine / "project.json").read_bytes(), position, value)
    for args in (("info", root), ("info", root, "--json"), ("class", "add", root, "go"),
                 ("class", "rename", root, "yes", "no")):
        code, output = _run(capsys, *args)
        assert code in (0, 1) and "Traceback" not in output and "internal error" not in output, output
        if code == 1:
            assert output.count("\n") == 1 and output.startswith("earshot: error: "), output


@FUZZ
@given(position=st.integers(min_value=0, max_value=10_000), value=st.integers(min_value=0, max_value=255))
def test_any_byte_of_model_metadata(model_folder: Path, clip: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str], position: int, value: int) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "model"
    shutil.copytree(model_folder, folder)
    _corrupt(folder / "metadata.json", (model_folder / "metadata.json").read_bytes(), position, value)
    code, output = _run(capsys, "predict", folder, clip, "--json")
    assert code in (0, 1) and "Traceback" not in output and "internal error" not in output, output
    if code == 1:
        assert output.count("\n") == 1 and "train again" in output, output


@pytest.fixture(scope="module")
def wav_bytes() -> bytes:
    import io

    import numpy as np
    import soundfile

    buffer = io.BytesIO()
    rng = np.random.default_rng(9)
    soundfile.write(buffer, (rng.standard_normal(8000) * 0.1).astype(np.float32), 16000, subtype="PCM_16",
                    format="WAV")
    return buffer.getvalue()


@FUZZ
@given(position=st.integers(min_value=0, max_value=80), value=st.integers(min_value=0, max_value=255),
       cut=st.sampled_from([None, 44, 100, 1000]))
def test_any_byte_of_a_wav_header_or_a_cut(pristine: Path, tmp_path: Path, wav_bytes: bytes,
                                           capsys: pytest.CaptureFixture[str], position: int, value: int,
                                           cut: int | None) -> None:
    """A WAV with one header byte changed (sizes, format, rate, channels) and/or cut short."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    root = folder / "proj"
    shutil.copytree(pristine, root)
    path = folder / "take.wav"
    _corrupt(path, wav_bytes, position, value)
    if cut is not None:
        path.write_bytes(path.read_bytes()[:cut])
    for args in (("import", root, path, "--class", "yes"), ("extract", root, "yes", path)):
        code, output = _run(capsys, *args)
        assert code in (0, 1) and "Traceback" not in output and "internal error" not in output, output
