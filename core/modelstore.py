"""A project's trained models, swapped in so that a crash at any instant leaves a usable model.

    models/model-0007/    complete model folders, numbered in the order they were trained
    models/latest         symlink -> model-0007 (what export, predict and listen use)
    models/previous       symlink -> model-0006 (the model it replaced)
    models/.building-*/   a model being written (removed on the next open if its writer died)

A new model is written into `.building-*`, synced, renamed to the next `model-NNNN` (it is complete
from then on), and published by replacing the `previous` and then the `latest` symlink, each with one
rename. A kill between any two steps leaves either the old or the new model as `latest`; `recover`
(called with the project's lock held) finishes an interrupted swap, removes leftovers and converts the
folders of older versions (`latest/` and `previous/` as real folders). Readers call `current()`, which
resolves the same way without writing, so a read-only project can still be used.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from core import atomic
from core.errors import ModelError
from core.spec import FeatureSpec

LATEST = "latest"
PREVIOUS = "previous"
BUILDING_PREFIX = ".building-"
MODEL_PREFIX = "model-"
_MODEL_NAME = re.compile(rf"^{MODEL_PREFIX}(\d+)$")


@dataclass(frozen=True)
class _Plan:
    """Which complete model folders `latest` and `previous` should name (None: no such model)."""

    latest: str | None
    previous: str | None


def _number(name: str) -> int:
    match = _MODEL_NAME.match(name)
    return int(match.group(1)) if match else -1


def _models(models_dir: Path) -> list[str]:
    """Complete model folders, oldest first."""
    try:
        names = [p.name for p in models_dir.iterdir() if _MODEL_NAME.match(p.name) and p.is_dir()
                 and not p.is_symlink()]
    except OSError:
        return []
    return sorted(names, key=_number)


def _target(models_dir: Path, pointer: str) -> str | None:
    """The model folder a pointer symlink names, if it is one of ours and exists."""
    link = models_dir / pointer
    if not link.is_symlink():
        return None
    name = os.readlink(link)
    return name if _MODEL_NAME.match(name) and (models_dir / name).is_dir() else None


def _plan(models_dir: Path) -> _Plan:
    """Where the pointers should point: a complete model newer than `latest` wins (its swap was
    interrupted after the model was complete); `previous` is the newest model before `latest`."""
    models = _models(models_dir)
    latest = _target(models_dir, LATEST)
    if models and (latest is None or _number(models[-1]) > _number(latest)):
        previous = latest
        latest = models[-1]
    else:
        previous = _target(models_dir, PREVIOUS)
    if latest is not None and (previous is None or _number(previous) >= _number(latest)):
        older = [m for m in models if _number(m) < _number(latest)]
        previous = older[-1] if older else None
    return _Plan(latest, previous)


def _legacy(models_dir: Path, pointer: str) -> Path | None:
    path = models_dir / pointer
    return path if path.is_dir() and not path.is_symlink() else None


def current(models_dir: Path) -> Path | None:
    """The folder of the model in use (`models/latest`), or None when there is none. Never writes."""
    models_dir = Path(models_dir)
    legacy = _legacy(models_dir, LATEST)  # adopted last, and nothing is published before that
    if legacy is not None:
        return legacy
    plan = _plan(models_dir)
    return models_dir / plan.latest if plan.latest is not None else None


def previous(models_dir: Path) -> Path | None:
    """The folder of the model `latest` replaced, or None. Never writes."""
    models_dir = Path(models_dir)
    if _legacy(models_dir, LATEST) is not None:
        models = _models(models_dir)
        adopted = _target(models_dir, PREVIOUS) or (models[-1] if models else None)
        return _legacy(models_dir, PREVIOUS) or (models_dir / adopted if adopted else None)
    plan = _plan(models_dir)
    return models_dir / plan.previous if plan.previous is not None else None


def candidates(models_dir: Path) -> list[Path]:
    """The current model, then the previous one: what a reader should try, in order."""
    return [p for p in (current(models_dir), previous(models_dir)) if p is not None]


def pending(models_dir: Path) -> bool:
    """Whether a killed process left work for `recover`: an interrupted swap or a half-written folder."""
    models_dir = Path(models_dir)
    try:
        names = [p.name for p in models_dir.iterdir()]
    except OSError:
        return False
    if any(n.startswith(BUILDING_PREFIX) or (n.startswith(".") and n.endswith(".tmp")) for n in names):
        return True
    if _legacy(models_dir, LATEST) is not None:
        return False  # an older layout: converted at the next write, readable as it is
    plan = _plan(models_dir)
    return plan.latest is not None and (plan.latest, plan.previous) != (
        _target(models_dir, LATEST), _target(models_dir, PREVIOUS))


def _point(models_dir: Path, pointer: str, name: str) -> None:
    """Make `models/<pointer>` a symlink to `name`, replacing the old one with a single rename."""
    link = models_dir / pointer
    if os.path.islink(link) and os.readlink(link) == name:
        return
    tmp = models_dir / f".{pointer}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)
    os.replace(tmp, link)
    atomic.fsync_dir(models_dir)


def _next_name(models_dir: Path) -> str:
    numbers = [_number(m) for m in _models(models_dir)]
    return f"{MODEL_PREFIX}{max(numbers, default=0) + 1:04d}"


def _adopt_legacy(models_dir: Path) -> None:
    """Turn `previous/` and `latest/` folders of older versions into numbered models + symlinks."""
    for pointer in (PREVIOUS, LATEST):
        folder = _legacy(models_dir, pointer)
        if folder is None:
            continue
        name = _next_name(models_dir)
        os.rename(folder, models_dir / name)
        atomic.fsync_dir(models_dir)
        atomic.crash_point(f"model-adopt-{pointer}")
        _point(models_dir, pointer, name)


def recover(models_dir: Path, *, keep: Path | None = None) -> None:
    """Finish an interrupted swap and remove leftovers (but not `keep`, a folder being built).

    Call only with the project's lock held."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return
    for leftover in models_dir.iterdir():
        name = leftover.name
        if leftover == keep:
            continue
        if name.startswith(BUILDING_PREFIX) and leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        elif name.startswith(".") and name.endswith(".tmp") and leftover.is_symlink():
            leftover.unlink(missing_ok=True)
    _adopt_legacy(models_dir)
    plan = _plan(models_dir)
    if plan.latest is None:
        return
    if plan.previous is not None:
        _point(models_dir, PREVIOUS, plan.previous)
    else:
        (models_dir / PREVIOUS).unlink(missing_ok=True)
    _point(models_dir, LATEST, plan.latest)
    for name in _models(models_dir):
        if name not in (plan.latest, plan.previous):
            shutil.rmtree(models_dir / name, ignore_errors=True)


def _readable_by_others(folder: Path) -> None:
    """mkdtemp makes 0700; a model on a shared lab machine should be readable like any other file."""
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)


def _sync_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    atomic.fsync_dir(folder)


def _publish(models_dir: Path, building: Path) -> Path:
    """Rename a complete model folder to the next number and point `latest` at it."""
    _readable_by_others(building)
    _sync_files(building)
    atomic.crash_point("model-built")
    recover(models_dir, keep=building)  # a tidy starting point: leftovers gone, older layouts converted
    old = _target(models_dir, LATEST)
    name = _next_name(models_dir)
    os.rename(building, models_dir / name)
    atomic.fsync_dir(models_dir)
    atomic.crash_point("model-renamed")
    if old is not None:
        _point(models_dir, PREVIOUS, old)
        atomic.crash_point("model-previous")
    _point(models_dir, LATEST, name)
    atomic.crash_point("model-latest")
    for stale in _models(models_dir):
        if stale not in (name, old):
            shutil.rmtree(models_dir / stale, ignore_errors=True)
    return models_dir / LATEST


@contextmanager
def new_model(models_dir: Path) -> Iterator[Path]:
    """Yield an empty folder to write a model into; when the block ends without an error the folder
    becomes `models/latest` (the model it replaces becomes `previous`). Call with the project's lock
    held. A write error becomes a one-line EarshotError; the folder is removed on any failure."""
    models_dir = Path(models_dir)
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=BUILDING_PREFIX, dir=models_dir))
    except OSError as exc:
        raise atomic.disk_error(exc, models_dir / LATEST) from exc
    try:
        yield building
        _publish(models_dir, building)
    except OSError as exc:
        raise atomic.disk_error(exc, models_dir / LATEST) from exc
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def _bad(source: str, what: str) -> ModelError:
    return ModelError(f"{source}: metadata.json is damaged ({what})",
                      "train again (or export the model again) to rewrite it")


def check_metadata(metadata: object, source: str) -> None:
    """Refuse model metadata that would fail deep inside (hand-edited, truncated, another version):
    ModelError naming the file and the field, saying to train again."""
    if not isinstance(metadata, dict):
        raise _bad(source, "not a JSON object")
    model = metadata.get("model", {})
    if not isinstance(model, dict) or not isinstance(model.get("kind", "small"), str):
        raise _bad(source, "'model' is not a model kind")
    small = model.get("kind", "small") == "small"  # an ear's model has no log-mel 'features'
    for section in ("audio", "features") if small else ("audio",):
        if not isinstance(metadata.get(section), dict):
            raise _bad(source, f"no {section!r} settings")
    audio = metadata["audio"]
    features = metadata["features"] if small else {}
    limits = {"sample_rate": (4000, 96000), "clip_seconds": (0.25, 10.0)}
    for key, (low, high) in limits.items():
        for where, values in (("audio", audio), ("features", features)):
            value = values.get(key, audio.get(key)) if where == "features" else values.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise _bad(source, f"{where} {key} is {value!r}")
    defaults = FeatureSpec()
    for key, default in asdict(defaults).items():
        value = features.get(key, default)
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < 0 or (value == 0 and key != "fmin") or (
                isinstance(default, int) and value != int(value)):
            raise _bad(source, f"features {key} is {value!r}")
    try:
        spec = FeatureSpec.from_dict(features or {"sample_rate": audio["sample_rate"],
                                                  "clip_seconds": audio["clip_seconds"]})
        if spec.win_length < 1 or spec.hop_length < 1 or spec.n_frames < 1 or spec.fmin >= spec.fmax:
            raise ValueError("the clip is too short for its windows")
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise _bad(source, f"features: {exc}") from None
    labels = metadata.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
        raise _bad(source, "labels is not a list of names")
    split = metadata.get("test_split", [])
    if not isinstance(split, list) or not all(
            isinstance(item, dict) and isinstance(item.get("file"), str)
            and isinstance(item.get("label"), str) for item in split):
        raise _bad(source, "test_split is not a list of files and labels")
    for item in split:  # paths are read relative to the project: never outside it
        path = PurePosixPath(item["file"])
        if path.is_absolute() or ".." in path.parts or "\x00" in item["file"] or not item["file"]:
            raise _bad(source, f"test clip {item['file']!r} points outside the project")
