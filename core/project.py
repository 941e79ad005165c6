"""The project folder: `project.json`, one folder of 16-bit mono WAV clips per class, raw
recordings, a trash folder and trained models.

    project.json            settings and the ordered class list (written atomically)
    samples/<folder>/*.wav  one clip per file, at the project's rate and clip length
    recordings/<folder>/    raw recordings, kept before they are cut into clips
    trash/                  removed classes and deleted samples (never deleted outright)
    models/                 trained models (core.modelstore)

What project.json may hold is checked in core.projectfile, the write lock is core.projectlock, and
multi-file changes (imports, extracted clips) go through core.importjournal.
"""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic, importjournal, modelstore, trash
from core.audio import save_wav, wav_bytes
from core.errors import EarshotError, ProjectError
from core.names import (  # noqa: F401  (re-exported: core.project is where callers look for them)
    MAX_NAME_LENGTH,
    clip_digest,
    clip_file_name,
    name_digest,
    slugify,
    validate_class_name,
)
from core.projectfile import (  # noqa: F401  (re-exported)
    KIND,
    LOCK_FILE,
    PROJECT_FILE,
    SCHEMA_VERSION,
    ClassInfo,
    inside,
    is_plain_folder_name,
    new_project_data,
)
from core.projectfile import read as read_project_file
from core.projectlock import ProjectLock
from core.readiness import ClassSummary, ProjectSummary, check_readiness  # noqa: F401  (re-exported)
from core.spec import MIN_SAMPLES_PER_CLASS, AudioSpec, TrainSpec

STAGING_PREFIX = ".import-"
MODEL_SPACE = 16 << 20  # free bytes training wants before it starts (a model folder is ~0.1-5 MB)


def check_writable(folder: Path, *, need_bytes: int = MODEL_SPACE) -> None:
    """Refuse long work at the start when its result could not be saved in `folder` (created if missing)."""
    atomic.check_writable(folder, need_bytes=need_bytes)


def _file_bytes(root: Path) -> bytes | None:
    """What project.json holds on disk (None when missing or unreadable: reading it then says why)."""
    try:
        return (Path(root) / PROJECT_FILE).read_bytes()
    except OSError:
        return None


def _check_min_samples(value: int) -> None:
    if not 1 <= int(value) <= 100_000:
        raise ProjectError(f"a minimum of {value} samples per class is out of range", "use 1-100000")


class Project:
    """An open project folder. Reads are free; every change takes the project's lock, and is made on
    what project.json holds then (another window or the CLI may have changed it since it was read)."""

    def __init__(self, root: Path, data: dict[str, Any], seen: bytes | None = None) -> None:
        self.root = Path(root)
        self._data = data
        self._saved = copy.deepcopy(data)
        self._seen = seen  # project.json's bytes when `data` was read or last written (None: no file)
        self._lock = ProjectLock(self.root)

    # -- opening and creating -------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, *, name: str | None = None, audio: AudioSpec | None = None,
               min_samples: int = MIN_SAMPLES_PER_CLASS) -> Project:
        root = Path(root)
        audio = audio or AudioSpec()
        _check_min_samples(min_samples)
        if (root / PROJECT_FILE).exists():
            raise ProjectError(f"{root} is already an earshot project", "open it instead")
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} exists and is not a folder", "choose another path")
        if root.exists() and any(p for p in root.iterdir() if not p.name.startswith(".")):
            raise ProjectError(f"{root} is not empty", "choose a new or empty folder")
        if not 4000 <= audio.sample_rate <= 96000:
            raise ProjectError(f"sample rate {audio.sample_rate} Hz is out of range", "use 8000-48000")
        if not 0.25 <= audio.clip_seconds <= 10.0:
            raise ProjectError(f"clip length {audio.clip_seconds} s is out of range", "use 0.25-10 s")
        project_name = validate_class_name(name or root.resolve().name or "earshot project")
        data = new_project_data(project_name, audio, int(min_samples))
        existed = root.exists()
        made: list[Path] = []
        try:
            root.mkdir(parents=True, exist_ok=True)
            project = cls(root, data)
            with project.lock():
                for sub in ("samples", "recordings", "trash", "models", "samples/background-noise"):
                    if not (root / sub).exists():
                        (root / sub).mkdir()
                        made.append(root / sub)
                project._save()
        except BaseException as exc:
            if not existed:  # leave nothing half made behind
                shutil.rmtree(root, ignore_errors=True)
            else:
                for folder in reversed(made):
                    shutil.rmtree(folder, ignore_errors=True)
                (root / LOCK_FILE).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise atomic.disk_error(exc, root) from exc
            raise
        return project

    @classmethod
    def open(cls, root: Path) -> Project:
        """Open a project, first finishing an import or a model swap a killed process left half done
        (when the project is writable and no other process holds its lock)."""
        root = Path(root)
        seen = _file_bytes(root)  # before reading: a change in between only causes one more reload
        data = read_project_file(root)
        project = cls(root, data, seen)
        if importjournal.pending(root) or modelstore.pending(project.models_dir):
            try:
                with project.lock():
                    pass
            except EarshotError:
                pass  # read-only or busy: the reader sees the project as it is
        return project

    @staticmethod
    def find(start: Path) -> Path | None:
        """The project folder at `start` or above it, if any."""
        for folder in [Path(start).resolve(), *Path(start).resolve().parents]:
            if (folder / PROJECT_FILE).is_file():
                return folder
        return None

    # -- locking and saving -----------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the project's write lock; refuse at once if another process holds it, or if the project
        is read-only or its disk is full. Taking it finishes work a killed process left behind and
        takes up a project.json another process saved meanwhile, so changes are made on top of it."""
        with self._lock.hold(on_acquire=self._on_acquire):
            yield

    def _on_acquire(self) -> None:
        if _file_bytes(self.root) != self._seen:
            self.reload()
        self._recover()

    def _recover(self) -> None:
        """Roll an interrupted import forward or back, finish an interrupted model swap and remove
        temp files. Runs with the lock held, so no other process can be using them."""
        try:
            if importjournal.recover(self.root):
                self.reload()
            modelstore.recover(self.models_dir)
        except OSError as exc:
            raise atomic.disk_error(exc, self.root) from exc
        importjournal.remove_staging(self.root, STAGING_PREFIX)
        for leftover in self.root.glob(f".{PROJECT_FILE}.*.tmp"):
            leftover.unlink(missing_ok=True)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; if the block raises, put the settings and class list back as they were."""
        with self.lock():
            before = copy.deepcopy(self._data)
            try:
                yield
            except BaseException:
                self._data = before
                try:
                    self._save()
                except EarshotError:
                    pass  # the failed write left the previous project.json in place
                raise

    def _save(self) -> None:
        """Write project.json; if that fails, the in-memory state goes back to what is on disk."""
        with self.lock():
            try:
                atomic.write_json(self.root / PROJECT_FILE, self._data)
            except BaseException:
                self._data = copy.deepcopy(self._saved)
                raise
            self._saved = copy.deepcopy(self._data)
            self._seen = _file_bytes(self.root)

    def reload(self) -> None:
        """Read project.json again (changes not yet saved are dropped)."""
        self._seen = _file_bytes(self.root)
        self._data = read_project_file(self.root)
        self._saved = copy.deepcopy(self._data)

    # -- settings ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._data["name"])

    @property
    def audio(self) -> AudioSpec:
        return AudioSpec.from_dict(self._data)

    @property
    def min_samples(self) -> int:
        return int(self._data.get("min_samples", MIN_SAMPLES_PER_CLASS))

    @property
    def train_spec(self) -> TrainSpec:
        return TrainSpec.from_dict({**self._data.get("training", {}), "min_samples": self.min_samples})

    def set_train_spec(self, spec: TrainSpec) -> None:
        """Save training settings; `spec.min_samples` also sets the readiness minimum."""
        _check_min_samples(spec.min_samples)
        with self.lock():
            self._data["training"] = spec.to_dict()
            self._data["min_samples"] = int(spec.min_samples)
            self._save()

    def settings(self, section: str) -> dict[str, Any]:
        """A copy of a free-form settings section (e.g. "push", "validate")."""
        return dict(self._data.setdefault("settings", {}).get(section, {}))

    def set_settings(self, section: str, values: dict[str, Any]) -> None:
        with self.lock():
            self._data.setdefault("settings", {})[section] = dict(values)
            self._save()

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache"

    # -- classes ----------------------------------------------------------------------------

    @property
    def classes(self) -> list[ClassInfo]:
        return [ClassInfo(**c) for c in self._data["classes"]]

    def get_class(self, name: str) -> ClassInfo:
        wanted = name.strip().casefold()
        for info in self.classes:
            if info.name.casefold() == wanted or info.id == name:
                return info
        known = ", ".join(c.name for c in self.classes)
        raise ProjectError(f"no class named {name!r} in {self.name}", f"classes are: {known}")

    def has_class(self, name: str) -> bool:
        return any(c.name.casefold() == name.strip().casefold() for c in self.classes)

    def _check_unique(self, name: str, ignore_id: str | None = None) -> None:
        for info in self.classes:
            if info.id != ignore_id and info.name.casefold() == name.casefold():
                raise ProjectError(f"a class named {info.name!r} already exists", "choose another name")

    def new_class(self, name: str) -> ClassInfo:
        """Add a class to the in-memory project without saving or creating its folder (for commits
        that save once at the end; call with the lock held); `add_class` is the usual way."""
        cleaned = validate_class_name(name)
        self._check_unique(cleaned)
        class_id = f"c{int(self._data['next_class_id'])}"
        folder = slugify(cleaned) or class_id
        samples = self.root / "samples"
        taken = {c.folder for c in self.classes}
        if samples.is_dir():
            taken |= {p.name for p in samples.iterdir()}
        if folder in taken:
            folder = f"{folder}-{class_id}"
        info = ClassInfo(class_id, cleaned, folder)
        self._data["classes"].append(asdict(info))
        self._data["next_class_id"] = int(self._data["next_class_id"]) + 1
        return info

    def add_class(self, name: str) -> ClassInfo:
        with self.transaction():
            info = self.new_class(name)
            try:
                (self.root / "samples" / info.folder).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise atomic.disk_error(exc, self.root / "samples" / info.folder) from exc
            self._save()
        return info

    def data(self) -> dict[str, Any]:
        """A copy of what project.json holds (as in memory)."""
        return copy.deepcopy(self._data)

    def restore(self, data: dict[str, Any]) -> None:
        """Put the in-memory settings back to `data`, what project.json holds after a failed commit."""
        self._data = copy.deepcopy(data)
        self._saved = copy.deepcopy(data)

    def rename_class(self, old: str, new: str) -> ClassInfo:
        with self.lock():
            info = self.get_class(old)
            if info.fixed:
                raise ProjectError(f"{info.name!r} is fixed and cannot be renamed", "add a new class instead")
            cleaned = validate_class_name(new)
            self._check_unique(cleaned, ignore_id=info.id)
            renamed = ClassInfo(info.id, cleaned, info.folder, info.fixed)
            self._data["classes"] = [asdict(renamed) if c["id"] == info.id else c
                                     for c in self._data["classes"]]
            self._save()
        return renamed

    def remove_class(self, name: str) -> Path:
        """Move a class's samples and recordings to a new folder in `trash/` and drop it; return that
        folder (`<time>-<folder>`, with `-2`, `-3`, ... when a class of that folder went there already)."""
        moved: list[tuple[Path, Path]] = []
        with self.transaction():
            info = self.get_class(name)
            if info.fixed:
                raise ProjectError(f"{info.name!r} is fixed and cannot be removed",
                                   "every project keeps it; delete its samples instead")
            stamp = time.strftime("%Y%m%d-%H%M%S")
            removed: Path | None = None
            try:
                removed = trash.new_folder(self.root / "trash", f"{stamp}-{info.folder}")
                for kind in ("samples", "recordings"):
                    source = self.root / kind / info.folder
                    if source.exists():
                        os.replace(source, removed / kind)  # trash/ is inside the project: one rename
                        moved.append((source, removed / kind))
                atomic.write_json(removed / "class.json", asdict(info))
                self._data["classes"] = [c for c in self._data["classes"] if c["id"] != info.id]
                self._save()
            except BaseException as exc:
                for source, target in reversed(moved):
                    os.replace(target, source)
                if removed is not None:  # only the folder this call made: others hold earlier classes
                    shutil.rmtree(removed, ignore_errors=True)
                if isinstance(exc, OSError):
                    raise atomic.disk_error(exc, removed or self.root / "trash") from exc
                raise
        return removed

    # -- samples and recordings -------------------------------------------------------------

    def samples_dir(self, info: ClassInfo) -> Path:
        return self.root / "samples" / info.folder

    def recordings_dir(self, info: ClassInfo) -> Path:
        return self.root / "recordings" / info.folder

    def samples(self, info: ClassInfo) -> list[Path]:
        folder = self.samples_dir(info)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix == ".wav" and not p.name.startswith("."))

    def sample_count(self, info: ClassInfo) -> int:
        return len(self.samples(info))

    def stored_digests(self, info: ClassInfo) -> dict[str, Path]:
        """Content hash -> path of the class's samples, so a clip is never stored twice."""
        return {d: p for p in self.samples(info) if (d := name_digest(p))}

    def add_clips(self, info: ClassInfo, clips: list[np.ndarray], *, prefix: str) -> list[Path]:
        """Store clips (each `float32 [clip_samples]`) as WAV files, all or none; identical clips are
        stored once (the returned paths include the ones already there)."""
        expected = self.audio.clip_samples
        for clip in clips:
            if clip.shape != (expected,):
                raise ProjectError(f"a clip has {clip.shape} samples, expected ({expected},)",
                                   "cut clips with core.segment.extract")
        written: list[Path] = []
        new: dict[Path, bytes] = {}
        with self.lock():
            folder = self.samples_dir(info)
            stored = self.stored_digests(info)
            for clip in clips:
                path = stored.get(clip_digest(clip)) or folder / clip_file_name(clip, prefix)
                if not path.exists() and path not in new:
                    new[path] = wav_bytes(clip, self.audio.sample_rate)
                    stored[clip_digest(clip)] = path
                written.append(path)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise atomic.disk_error(exc, folder) from exc
            # all or nothing, also under kill -9: staged, then moved in under a journal
            staging = self.root / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            importjournal.write_files(self.root, new, staging, self.data())
        return written

    def save_recording(self, info: ClassInfo, y: np.ndarray, *, label: str = "recording") -> Path:
        """Keep a raw recording (before extraction) under `recordings/<folder>/`."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = self.recordings_dir(info)
        with self.lock():
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{stamp}-{slugify(label) or 'recording'}.wav"
            n = 1
            while path.exists():
                n += 1
                path = folder / f"{stamp}-{slugify(label) or 'recording'}-{n}.wav"
            save_wav(path, y, self.audio.sample_rate)
        return path

    def recordings(self, info: ClassInfo) -> list[Path]:
        folder = self.recordings_dir(info)
        return sorted(folder.glob("*.wav")) if folder.is_dir() else []

    def delete_sample(self, path: Path) -> Path:
        """Move one sample to `trash/samples/<folder>/` (never over an earlier one of the same name:
        `<name>-2.wav`, ...) and return where it went."""
        path = Path(path)
        if path.parent.parent != self.root / "samples" or not path.is_file():
            raise ProjectError(f"{path} is not a sample of this project", "choose a file under samples/")
        with self.lock():
            folder = self.root / "trash" / "samples" / path.parent.name
            folder.mkdir(parents=True, exist_ok=True)
            target = trash.unique_path(folder / path.name)
            os.replace(path, target)
        return target

    # -- readiness --------------------------------------------------------------------------

    def summary(self) -> ProjectSummary:
        audio = self.audio
        counts = [ClassSummary(c.name, n, round(n * audio.clip_seconds, 3))
                  for c in self.classes for n in [self.sample_count(c)]]
        readiness = check_readiness({c.name: c.samples for c in counts}, self.min_samples)
        return ProjectSummary(self.name, audio.sample_rate, audio.clip_seconds, counts, ready=readiness.ready,
                              problems=readiness.problems, warnings=readiness.warnings)
