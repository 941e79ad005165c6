"""The demo project: Background Noise plus three spoken words, built from the recordings in sample_data/.

The recordings are made by `sample_data/make_demo.py`; building the demo keeps them as raw recordings
and extracts them like recordings made in the app. The project is built in a temporary folder beside
the target and renamed into place, so an interrupted build never leaves a half-made demo behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.audio import load
from core.errors import ProjectError
from core.ingest import extract_recording
from core.project import PROJECT_FILE, Project
from core.segment import Extraction

DEMO_SECTION = "demo"
DEMO_VERSION = 1
DEMO_NAME = "earshot demo"
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
MANIFEST = "demo.json"


@dataclass
class DemoResult:
    """The demo project, whether it was built now (False: it was already there), and what was extracted."""

    project: Project
    created: bool
    extractions: list[tuple[str, str, Extraction]] = field(default_factory=list)  # class, file, result


def sample_data_dir() -> Path:
    """The folder holding the demo recordings and demo.json."""
    return Path(os.environ.get("EARSHOT_SAMPLE_DATA", SAMPLE_DATA))


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        classes = data["classes"]
        if not isinstance(classes, list) or not classes:
            raise KeyError("classes")
    except FileNotFoundError:
        raise ProjectError(f"the demo recordings are missing ({path} not found)",
                           "run: python sample_data/make_demo.py") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{path} is damaged ({exc})", "run: python sample_data/make_demo.py") from exc
    return dict(data)


def is_demo(root: Path) -> bool:
    """True when `root` is a project made by `create_demo`."""
    if not (Path(root) / PROJECT_FILE).is_file():
        return False
    return bool(Project.open(root).settings(DEMO_SECTION))


def create_demo(
    root: Path, *, source: Path | None = None, on_status: Callable[[str], None] | None = None
) -> DemoResult:
    """Build the demo project at `root`, or return the existing one if `root` already is the demo."""
    root = Path(root)
    if is_demo(root):
        return DemoResult(Project.open(root), created=False)
    if (root / PROJECT_FILE).exists():
        raise ProjectError(f"{root} is a project of its own, not the demo",
                           "choose another folder with --dir")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ProjectError(f"{root} exists and is not empty", "choose a new folder with --dir")
    source = source or sample_data_dir()
    manifest = read_manifest(source)
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    try:
        result = _build(building / "project", source, manifest, on_status)
        if root.exists():
            root.rmdir()
        os.replace(building / "project", root)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    result.project = Project.open(root)
    return result


def _build(folder: Path, source: Path, manifest: dict[str, Any],
           on_status: Callable[[str], None] | None) -> DemoResult:
    project = Project.create(folder, name=DEMO_NAME)
    result = DemoResult(project, created=True)
    with project.lock():
        for entry in manifest["classes"]:
            name = str(entry["name"])
            info = project.get_class(name) if project.has_class(name) else project.add_class(name)
            for file_name in entry["recordings"]:
                y = load(source / file_name, project.audio.sample_rate)
                extraction = extract_recording(project, info, y, mode=entry.get("mode"),
                                               label=Path(file_name).stem)
                result.extractions.append((info.name, file_name, extraction))
                if on_status is not None:
                    on_status(f"{info.name}: {file_name}: {extraction.summary()}")
        project.set_settings(DEMO_SECTION, {"version": DEMO_VERSION, "source": "sample_data"})
    return result
