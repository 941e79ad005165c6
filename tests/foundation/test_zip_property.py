"""Property test: whatever entry names and contents a zip holds, an import either adds only WAV clips
inside the project's class folders, or refuses and changes nothing, and never writes elsewhere."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.audio import wav_bytes
from core.errors import SampleImportError
from core.ingest import import_samples
from core.project import Project
from tests.foundation.helpers import SR, tone, tree_digest

BENIGN = ["yes"] * 6 + ["No"] * 4 + ["a b", "ü", "Background Noise"] * 2
HOSTILE = ["..", ".", "", "C:", ".hidden", "__MACOSX", "x" * 45, "tab\there"]
SEGMENTS = st.sampled_from(BENIGN + HOSTILE)
SEPARATORS = st.sampled_from(["/", "\\"])
SUFFIXES = st.sampled_from([".wav"] * 4 + [".WAV", ".txt", "", ".flac"])
CONTENTS = st.sampled_from(["wav"] * 3 + ["long wav", "garbage", "empty"])


@st.composite
def entries(draw) -> tuple[str, str]:
    parts = draw(st.lists(SEGMENTS, min_size=1, max_size=3))
    name = draw(SEPARATORS).join(parts) + draw(SUFFIXES)
    if draw(st.integers(0, 9)) == 0:
        name = "/" + name
    return name or "empty-name", draw(CONTENTS)


def content(kind: str, seed: int) -> bytes:
    if kind == "wav":
        return wav_bytes(tone(1.0, freq=100 + seed, amplitude=0.3), SR)
    if kind == "long wav":
        return wav_bytes(tone(2.6, freq=100 + seed, amplitude=0.3), SR)
    return b"" if kind == "empty" else b"RIFF?garbage" * 5


@pytest.mark.filterwarnings("ignore:Duplicate name")
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries(), min_size=1, max_size=6), st.sampled_from([None, "Background Noise"]))
def test_any_zip_imports_safely_or_changes_nothing(members: list[tuple[str, str]],
                                                   class_name: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = Project.create(root / "p")
        source = root / "upload.zip"
        with zipfile.ZipFile(source, "w") as archive:
            for i, (name, kind) in enumerate(members):
                archive.writestr(name, content(kind, i))
        before = tree_digest(project.root)
        outside = tree_digest(root)
        try:
            report = import_samples(project, [source], class_name=class_name)
        except SampleImportError as error:
            event("refused")
            assert "\n" not in str(error)
            assert tree_digest(project.root) == before
        else:
            event("imported")
            after = tree_digest(project.root)
            new = sorted(set(after) - set(before))
            clips = [p for p in new if p.startswith("samples/") and p.endswith(".wav")]
            recordings = [p for p in new if p.startswith("recordings/") and p.endswith(".wav")]
            assert len(clips) == report.total and len(recordings) == report.recordings
            assert report.total + report.recordings >= 1
            folders = {c.folder for c in Project.open(project.root).classes}
            for path in clips + recordings:
                assert path.split("/")[1] in folders and path.count("/") == 2
            assert all(p.split("/")[0] in {"samples", "recordings", "project.json"} for p in new)
        assert {k: v for k, v in tree_digest(root).items() if not k.startswith("p/")} == \
            {k: v for k, v in outside.items() if not k.startswith("p/")}
        assert not [p for p in project.root.iterdir() if p.name.startswith(".import")]
