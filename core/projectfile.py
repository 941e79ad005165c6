"""`project.json`: its layout, and checking a file that may have been edited by hand or merged.

Everything read from the file is checked before it is used: settings are numbers in range, every
class has an id, a name and a folder, and a folder is one plain name inside `samples/` (a folder of
`../../outside` would let an import write, or `class remove` move, files outside the project).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import ProjectError
from core.names import validate_class_name
from core.spec import BACKGROUND_NOISE, AudioSpec, TrainSpec

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
LOCK_FILE = ".earshot.lock"
KIND = "speech-classification"
SAMPLE_RATES = (4000, 96000)
CLIP_SECONDS = (0.25, 10.0)
MIN_SAMPLES = (1, 100_000)
_HINT = "fix project.json by hand or restore it from a backup"


@dataclass(frozen=True)
class ClassInfo:
    """One class: a stable id, the name users see, and the folder its clips live in."""

    id: str
    name: str
    folder: str
    fixed: bool = False


def new_project_data(name: str, audio: AudioSpec, min_samples: int) -> dict[str, Any]:
    """What project.json holds for a new project: settings and the fixed class Background Noise."""
    return {
        "schema": SCHEMA_VERSION,
        "kind": KIND,
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **audio.to_dict(),
        "min_samples": min_samples,
        "classes": [asdict(ClassInfo("c0", BACKGROUND_NOISE, "background-noise", fixed=True))],
        "next_class_id": 1,
        "training": TrainSpec().to_dict(),
        "settings": {},
    }


def inside(root: Path, relative: str, what: str) -> Path:
    """`root / relative`, refusing a path from a project or model file that would leave `root`."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts or "\x00" in relative or not relative:
        raise ProjectError(f"{what} {relative!r} points outside {root}", _HINT)
    resolved = (Path(root) / candidate).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise ProjectError(f"{what} {relative!r} points outside {root}", _HINT)
    return Path(root) / candidate


def is_plain_folder_name(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\x00" not in name)


def _number(data: dict[str, Any], key: str, kind: type, bounds: tuple[float, float], path: Path) -> None:
    value = data.get(key)
    ok = False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        ok = math.isfinite(number) and bounds[0] <= number <= bounds[1]
        ok = ok and (kind is not int or number.is_integer())
    if not ok:
        raise ProjectError(f"{path}: {key} is {value!r}, expected a number from {bounds[0]:g} "
                           f"to {bounds[1]:g}", _HINT)


def _check_classes(classes: object, path: Path) -> None:
    if not isinstance(classes, list) or not classes:
        raise ProjectError(f"{path}: 'classes' must be a list of classes", _HINT)
    ids: set[str] = set()
    folders: set[str] = set()
    names: set[str] = set()
    for entry in classes:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("id", "name", "folder")):
            raise ProjectError(f"{path}: a class entry needs an id, a name and a folder ({entry!r:.60})",
                               _HINT)
        if not isinstance(entry.get("fixed", False), bool) or set(entry) - {"id", "name", "folder", "fixed"}:
            raise ProjectError(f"{path}: class {entry['name']!r} has unknown fields", _HINT)
        if not is_plain_folder_name(entry["folder"]):
            raise ProjectError(f"{path}: class {entry['name']!r} has folder {entry['folder']!r}, "
                               "which points outside the project's samples/", _HINT)
        try:
            validate_class_name(entry["name"])
        except ProjectError as exc:
            raise ProjectError(f"{path}: {exc.message}", _HINT) from None
        key = entry["name"].strip().casefold()
        if entry["id"] in ids or entry["folder"] in folders or key in names:
            raise ProjectError(f"{path}: class {entry['name']!r} is listed twice", _HINT)
        ids.add(entry["id"])
        folders.add(entry["folder"])
        names.add(key)


def _check_training(training: object, path: Path) -> None:
    if not isinstance(training, dict):
        raise ProjectError(f"{path}: 'training' must be an object", _HINT)
    defaults = TrainSpec().to_dict()
    for key, value in training.items():
        if key not in defaults:
            continue
        expected = type(defaults[key])
        if expected is str:  # the model kind: an unknown one is refused where training starts
            if not isinstance(value, str):
                raise ProjectError(f"{path}: training {key} is {value!r}, expected a name", _HINT)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
                expected is int and not float(value).is_integer()):
            raise ProjectError(f"{path}: training {key} is {value!r}, expected a number", _HINT)


def check(data: object, path: Path) -> dict[str, Any]:
    """Return `data` when it is a usable project file, else raise ProjectError naming the problem."""
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ProjectError(f"{path} is not an earshot project file", "choose an earshot project folder")
    schema = data.get("schema")
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise ProjectError(f"{path}: unknown schema {schema!r}", _HINT)
    if schema > SCHEMA_VERSION:
        raise ProjectError(f"{path} was written by a newer earshot", "upgrade earshot")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise ProjectError(f"{path}: the project has no name", _HINT)
    _number(data, "sample_rate", int, SAMPLE_RATES, path)
    _number(data, "clip_seconds", float, CLIP_SECONDS, path)
    if "min_samples" in data:
        _number(data, "min_samples", int, MIN_SAMPLES, path)
    _check_classes(data.get("classes"), path)
    _check_training(data.get("training", {}), path)
    if not isinstance(data.get("settings", {}), dict):
        raise ProjectError(f"{path}: 'settings' must be an object", _HINT)
    if isinstance(data.get("next_class_id"), bool) or not isinstance(data.get("next_class_id", 0), int):
        raise ProjectError(f"{path}: next_class_id must be a whole number", _HINT)
    data["sample_rate"] = int(data["sample_rate"])
    used = [int(c["id"][1:]) for c in data["classes"] if c["id"][:1] == "c" and c["id"][1:].isdigit()]
    data["next_class_id"] = max([int(data.get("next_class_id", 0)), *(n + 1 for n in used)])
    return data


def read(root: Path) -> dict[str, Any]:
    """The checked contents of `root/project.json`."""
    path = Path(root) / PROJECT_FILE
    if not path.exists() and not path.is_symlink():
        raise ProjectError(f"{root} is not an earshot project (no {PROJECT_FILE})",
                           f"create one with: earshot new {root}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise ProjectError(f"{path} is a folder, not a project file", _HINT) from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProjectError(f"{path} is damaged ({str(exc)[:80]})", _HINT) from None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}",
                           "check the file's permissions") from None
    return check(data, path)
