"""Put audio into a project: a recording cut into clips, or an upload of zips, folders and files."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import atomic, importjournal
from core.audio import decode, quantize, wav_bytes
from core.errors import AudioError, ProjectError, SampleImportError
from core.project import (
    STAGING_PREFIX,
    ClassInfo,
    Project,
    clip_digest,
    clip_file_name,
    name_digest,
    slugify,
    validate_class_name,
)
from core.samplezip import ZipLimits
from core.segment import MODES, Extraction, extract
from core.spec import BACKGROUND_NOISE
from core.uploads import ImportItem, collect


def default_mode(info: ClassInfo) -> str:
    """`fixed` windows for Background Noise, `events` for every other class."""
    return "fixed" if info.fixed or info.name == BACKGROUND_NOISE else "events"


def extract_recording(
    project: Project, info: ClassInfo, y: np.ndarray, *, mode: str | None = None, label: str = "recording"
) -> Extraction:
    """Keep the raw recording `y: float32 [n]` first, then cut it and store the clips in `info`'s folder.

    `mode` is "fixed" or "events" (default: `default_mode(info)`). The returned Extraction has
    `recording` (the kept raw file) and `paths` (the stored clips) filled in; clips identical to ones
    already stored are counted in `duplicates`.
    """
    chosen = mode or default_mode(info)
    if chosen not in MODES:
        raise AudioError(f"unknown extraction mode {chosen!r}", "use fixed or events")
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise AudioError(f"a recording must be a non-empty mono signal, got shape {y.shape}", "record again")
    y = quantize(y)  # exactly what the kept 16-bit recording holds, so re-cutting it gives the same clips
    with project.lock():
        recording = project.save_recording(info, y, label=label)
        result = extract(y, project.audio, mode=chosen)
        result.recording = recording
        before = set(project.samples(info))
        result.paths = project.add_clips(info, result.clips, prefix=label)
        result.duplicates = sum(1 for p in result.paths if p in before)
    return result


# -- importing uploads: zips, folders and files ------------------------------------------------


@dataclass
class ImportReport:
    """What an import added (per class), what it skipped and why, and which classes it created."""

    added: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    recordings: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # one extraction summary per long file

    @property
    def total(self) -> int:
        return sum(self.added.values())

    def summary(self) -> str:
        per_class = ", ".join(f"{name} +{n}" for name, n in self.added.items()) or "nothing new"
        text = f"imported {_count(self.total, 'sample')} from {_count(self.files, 'file')} ({per_class})"
        if self.created:
            text += f"; new classes: {', '.join(self.created)}"
        if self.duplicates:
            text += f"; {self.duplicates} already present"
        if self.dropped:
            text += "; dropped " + ", ".join(f"{n} {r}" for r, n in sorted(self.dropped.items()))
        if self.skipped:
            text += f"; skipped {_count(len(self.skipped), 'file')}"
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _resolve_class(project: Project, raw: str) -> tuple[str, ClassInfo | None]:
    """A folder or --class name -> (class name, existing class or None when it will be created)."""
    try:
        name = validate_class_name(raw)
    except ProjectError as exc:
        raise SampleImportError(f"folder {raw!r} cannot be a class: {exc.message}",
                                "rename the folder, or choose a class with --class") from exc
    for info in project.classes:
        if info.name.casefold() == name.casefold() or info.folder == name:
            return info.name, info
    return name, None


def _stored_prefix(label: str) -> str:
    """The name prefix of a stored clip: the file's stem without an earshot content hash."""
    return re.sub(r"-[0-9a-f]{12}$", "", Path(label.rsplit(":", 1)[-1]).stem)


@dataclass
class _Staged:
    """Clips and recordings written into the staging folder, per class name."""

    root: Path
    keys: dict[str, str] = field(default_factory=dict)
    clips: dict[str, list[Path]] = field(default_factory=dict)
    recordings: dict[str, list[Path]] = field(default_factory=dict)
    digests: set[tuple[str, str]] = field(default_factory=set)  # (class name, clip hash)

    def folder(self, kind: str, class_name: str) -> Path:
        key = self.keys.setdefault(class_name.casefold(), f"k{len(self.keys)}")
        return self.root / kind / key


def _stage_write(path: Path, y: np.ndarray, sample_rate: int) -> None:
    """Write a staged WAV without an fsync of its own: `_commit` syncs the whole batch once."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(y, sample_rate))
    except OSError as exc:
        raise atomic.disk_error(exc, path) from exc


def _stage_item(item: ImportItem, class_name: str, mode: str, project: Project, staged: _Staged,
                report: ImportReport) -> None:
    audio = project.audio
    try:
        y = quantize(decode(item.read(), item.label, audio.sample_rate))
    except AudioError as exc:
        if item.explicit:
            raise
        report.skipped.append(f"{item.label}: {exc.message}")
        return
    report.files += 1
    if y.size == audio.clip_samples:
        clips = [y]
    else:
        result = extract(y, audio, mode=mode)
        clips = result.clips
        for reason, n in result.dropped.items():
            report.dropped[reason] = report.dropped.get(reason, 0) + n
        if y.size > audio.clip_samples:
            stem = slugify(_stored_prefix(item.label)) or "recording"
            path = staged.folder("recordings", class_name) / f"{stem}.wav"
            n = 1
            while path.exists():
                n += 1
                path = path.with_name(f"{path.stem.rsplit('~', 1)[0]}~{n}.wav")
            _stage_write(path, y, audio.sample_rate)
            staged.recordings.setdefault(class_name, []).append(path)
            report.notes.append(f"{item.label}: {result.summary()}")
    folder = staged.folder("samples", class_name)
    for clip in clips:
        digest = (class_name, clip_digest(clip))
        if digest in staged.digests:
            report.duplicates += 1
            continue
        path = folder / clip_file_name(clip, _stored_prefix(item.label))
        _stage_write(path, clip, audio.sample_rate)
        staged.digests.add(digest)
        staged.clips.setdefault(class_name, []).append(path)


def _commit(
    project: Project, targets: dict[str, ClassInfo | None], staged: _Staged, report: ImportReport
) -> None:
    """Move staged files into the project all or nothing, even under kill -9 (core.importjournal)."""
    atomic.sync_filesystem(project.root)  # every staged file is on disk before any is renamed in
    root = project.root

    def rel(path: Path) -> str:
        return str(path.relative_to(root))

    added: dict[str, int] = {}
    recordings = 0
    with project.lock():
        before = project.data()
        commit = importjournal.Commit(before=before)
        try:
            infos: dict[str, ClassInfo] = {}
            for name, existing in targets.items():
                if name not in staged.clips and name not in staged.recordings:
                    continue  # nothing readable for it: do not create an empty class
                if existing is None:
                    existing = project.new_class(name)
                    report.created.append(existing.name)
                infos[name] = existing
            planned: set[Path] = set()
            for name, paths in staged.clips.items():
                folder = project.samples_dir(infos[name])
                if not folder.exists():
                    commit.folders.append(rel(folder))
                stored = project.stored_digests(infos[name])
                for path in paths:
                    target = folder / path.name
                    if name_digest(path) in stored or target.exists() or target in planned:
                        report.duplicates += 1
                        continue
                    commit.moves.append((rel(path), rel(target)))
                    planned.add(target)
                    added[infos[name].name] = added.get(infos[name].name, 0) + 1
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for name, paths in staged.recordings.items():
                folder = project.recordings_dir(infos[name])
                if not folder.exists():
                    commit.folders.append(rel(folder))
                for path in paths:
                    target = folder / f"{stamp}-{path.name}"
                    n = 1
                    while target.exists() or target in planned:
                        n += 1
                        target = folder / f"{stamp}-{path.stem}-{n}.wav"
                    commit.moves.append((rel(path), rel(target)))
                    planned.add(target)
                    recordings += 1
            commit.after = project.data()
            importjournal.run(root, commit, project._save)
        except BaseException:
            if not commit.done:  # the files are back where they were: so is the class list
                project.restore(before)
                report.created.clear()
            raise
    report.added, report.recordings = added, recordings


def import_samples(
    project: Project,
    sources: list[Path],
    *,
    class_name: str | None = None,
    mode: str | None = None,
    limits: ZipLimits | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Import zips, folders or audio files into the project, all or nothing.

    Without `class_name`, each file's top-level folder names its class (created when missing; an
    earshot export's manifest maps folders back to class names). Files exactly one clip long are
    stored unchanged, shorter ones padded, longer ones kept as recordings and extracted (`mode`, or
    the class's default). Non-audio and unreadable files inside zips and folders are skipped and
    listed; anything unsafe or broken raises SampleImportError and leaves the project as it was.
    `on_progress(done, total, label)` is called per file; setting `cancel` stops and adds nothing.
    """
    if mode is not None and mode not in MODES:
        raise SampleImportError(f"unknown extraction mode {mode!r}", "use fixed or events")
    report = ImportReport()
    chosen = None
    if class_name:
        try:
            chosen = project.get_class(class_name)
        except ProjectError as exc:
            raise SampleImportError(exc.message, f"add it first with: earshot class add {project.root} "
                                    f"{shlex.quote(class_name)}") from None
    with project.lock():
        target = chosen.name if chosen else None
        items = collect(list(sources), target, limits or ZipLimits(), report.skipped)
        targets: dict[str, ClassInfo | None] = {}
        names: dict[str, str] = {}
        spelled: dict[str, str] = {}  # folders Dog/ and dog/ are one class, as class names are
        for raw in dict.fromkeys(item.class_name for item in items):
            name, existing = _resolve_class(project, raw)
            name = spelled.setdefault(name.casefold(), name)
            names[raw] = name
            targets.setdefault(name, existing)
        staged = _Staged(project.root / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            for done, item in enumerate(items, start=1):
                if cancel is not None and cancel.is_set():
                    raise SampleImportError("import cancelled; nothing was added", "run it again to import")
                name = names[item.class_name]
                existing = targets[name]
                chosen_mode = mode or (default_mode(existing) if existing else "events")
                _stage_item(item, name, chosen_mode, project, staged, report)
                if on_progress is not None:
                    on_progress(done, len(items), item.label)
            if not report.files:
                raise SampleImportError(f"none of the {len(items)} audio files could be read "
                                        f"({report.skipped[0] if report.skipped else 'no audio'})",
                                        "check that the files are WAV, FLAC, OGG or MP3")
            atomic.crash_point("import-staged")
            _commit(project, {n: targets[n] for n in dict.fromkeys(names.values())}, staged, report)
        finally:
            shutil.rmtree(staged.root, ignore_errors=True)
    return report
