"""An upload's audio inputs: the files of zips, folders and single paths, each with its class.

`collect` decides what goes where and refuses unsafe input before anything is decoded or written;
core.ingest then decodes, cuts and stores the items all or nothing.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from core.audio import check_file, is_audio_name
from core.errors import SampleImportError
from core.samplezip import (
    MANIFEST,
    ZipLimits,
    is_ignored,
    open_archive,
    read_entry,
    read_manifest,
    safe_entries,
)


@dataclass
class ImportItem:
    """One audio input of an upload, before it is decoded."""

    label: str  # shown in messages, e.g. "data.zip:yes/01.wav"
    class_name: str
    read: Callable[[], bytes]
    explicit: bool = False  # named by the user on the command line: unreadable is an error, not a skip


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or (path.is_file() and zipfile.is_zipfile(path))


def _class_for(parts: tuple[str, ...], class_name: str | None, source: str, folders: dict[str, str]) -> str:
    if class_name:
        return class_name
    if len(parts) < 2:
        raise SampleImportError(f"{source}: {'/'.join(parts)} is not inside a class folder",
                                "put files in one folder per class, or choose a class with --class")
    return folders.get(parts[0], parts[0])


def _strip_wrapper(paths: list[tuple[str, ...]]) -> int:
    """1 when every file sits in one common top folder that itself holds class folders, else 0."""
    tops = {p[0] for p in paths}
    return 1 if len(tops) == 1 and paths and all(len(p) >= 3 for p in paths) else 0


def _zip_items(
    path: Path, class_name: str | None, limits: ZipLimits, skipped: list[str]
) -> list[ImportItem]:
    archive = open_archive(path)
    entries = safe_entries(archive, path.name, limits)
    folders = read_manifest(archive, entries, path.name)
    audio_entries = []
    for entry in entries:
        if entry.parts == (MANIFEST,):
            continue
        if is_ignored(entry.parts) or not is_audio_name(entry.path):
            skipped.append(f"{path.name}:{entry.path}: not an audio file")
        else:
            audio_entries.append(entry)
    skip = 0 if class_name or folders else _strip_wrapper([e.parts for e in audio_entries])
    items = []
    for entry in audio_entries:
        klass = _class_for(entry.parts[skip:], class_name, path.name, folders)
        items.append(ImportItem(f"{path.name}:{entry.path}", klass,
                                partial(read_entry, archive, entry, path.name)))
    return items


def _folder_items(
    root: Path, class_name: str | None, limits: ZipLimits, skipped: list[str]
) -> list[ImportItem]:
    files: list[tuple[Path, tuple[str, ...]]] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        for d in list(dirs):
            if (here / d).is_symlink():
                skipped.append(f"{here / d}: symbolic link, not followed")
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink() and not is_ignored((d,)))
        for name in sorted(names):
            path = here / name
            parts = path.relative_to(root).parts
            if path.is_symlink():
                skipped.append(f"{path}: symbolic link, not followed")
            elif not path.is_file():  # reading a pipe would wait forever
                skipped.append(f"{path}: not a regular file (a pipe or a device)")
            elif is_ignored(parts) or not is_audio_name(name):
                skipped.append(f"{path}: not an audio file")
            else:
                files.append((path, parts))
            if len(files) > limits.max_files:
                raise SampleImportError(f"{root}: more than {limits.max_files} audio files",
                                        "import it in smaller parts")
    skip = 0 if class_name else _strip_wrapper([p for _, p in files])
    return [ImportItem(str(path), _class_for(parts[skip:], class_name, str(root), {}),
                       partial(_read_file, path)) for path, parts in files]


def _read_file(path: Path) -> bytes:
    check_file(path)  # the size and the header's length first: a 6 GB file is refused, not read
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SampleImportError(f"{path}: cannot read ({exc.strerror or exc})", "check the path") from exc


def collect(
    sources: list[Path], class_name: str | None, limits: ZipLimits, skipped: list[str]
) -> list[ImportItem]:
    """Every audio input of the sources, each with the class it goes to; refuses unsafe input."""
    items: list[ImportItem] = []
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise SampleImportError(f"{source}: no such file or folder", "check the path")
        if not source.is_dir() and not source.is_file():
            raise SampleImportError(f"{source}: not a regular file (a pipe or a device)",
                                    "name audio files, zips or folders")
        if source.is_dir():
            items += _folder_items(source, class_name, limits, skipped)
        elif _is_zip(source):
            items += _zip_items(source, class_name, limits, skipped)
        elif not class_name:
            raise SampleImportError(f"{source.name}: which class should it go to?", "add --class NAME")
        else:
            items.append(ImportItem(str(source), class_name, partial(_read_file, source), explicit=True))
    if len(items) > limits.max_files:
        raise SampleImportError(f"more than {limits.max_files} audio files at once", "import them in parts")
    if not items:
        shown = "; ".join(skipped[:3])
        raise SampleImportError(f"no audio files found in {', '.join(str(s) for s in sources)}"
                                + (f" (skipped: {shown})" if shown else ""),
                                "choose WAV, FLAC, OGG or MP3 files, or a zip or folder of them")
    return items
