"""Sample zips: reading untrusted archives safely, and writing a project's clips with a manifest.

An export zip holds one folder per class, named after the class, and `earshot-samples.json`:

    {"format": "earshot-samples", "version": 1, "project": ..., "sample_rate": ..., "clip_seconds": ...,
     "classes": [{"name": "Background Noise", "folder": "Background Noise", "samples": 20}, ...]}

Reading refuses the whole archive when it is corrupt or encrypted, when an entry escapes the archive
(`../`, absolute paths, drive letters), is a symlink or a device, or when it would unpack to more
files or bytes than `ZipLimits` allow (zip bombs). Sizes are checked before anything is decompressed,
and reads stop at the declared size, so a lying header cannot make a read grow without bound.
"""

from __future__ import annotations

import json
import re
import stat
import time
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core import atomic
from core.errors import SampleImportError
from core.project import ClassInfo, Project

MANIFEST = "earshot-samples.json"
FORMAT = "earshot-samples"
FORMAT_VERSION = 1
IGNORED_PARTS = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class ZipLimits:
    """What an uploaded archive may unpack to."""

    max_files: int = 10_000
    max_total_bytes: int = 1 << 30
    max_member_bytes: int = 256 << 20


@dataclass(frozen=True)
class ZipEntry:
    """One regular file in an archive: its cleaned path parts and declared size."""

    info: zipfile.ZipInfo
    parts: tuple[str, ...]

    @property
    def path(self) -> str:
        return "/".join(self.parts)

    @property
    def size(self) -> int:
        return self.info.file_size


def clean_parts(name: str, archive: str) -> tuple[str, ...]:
    """Split an entry name into safe path parts, or refuse it (traversal, absolute, drive letter)."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or re.match(r"^[A-Za-z]:", unified):
        raise SampleImportError(f"{archive}: entry {name!r} has an absolute path",
                                "the archive is unsafe; re-create it with relative paths")
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if ".." in parts:
        raise SampleImportError(f"{archive}: entry {name!r} points outside the archive",
                                "the archive is unsafe; re-create it without '..' paths")
    if any("\x00" in p for p in parts):
        raise SampleImportError(f"{archive}: entry {name!r} has a NUL byte in its name",
                                "re-create the archive")
    return parts


def _unix_mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0


def open_archive(path: Path) -> zipfile.ZipFile:
    """Open a zip for reading, turning every way it can be broken into one clear error."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise SampleImportError(f"{path.name}: not a readable zip archive ({exc})",
                                "download or create the zip again") from exc
    except OSError as exc:
        raise SampleImportError(f"{path}: cannot read ({exc.strerror or exc})", "check the path") from exc
    return archive


def safe_entries(archive: zipfile.ZipFile, name: str, limits: ZipLimits) -> list[ZipEntry]:
    """The archive's regular files, after refusing anything unsafe (see the module docstring)."""
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise SampleImportError(f"{name}: {len(infos)} entries is more than the {limits.max_files} allowed",
                                "split it into smaller zips")
    entries: list[ZipEntry] = []
    total = 0
    for info in infos:
        parts = clean_parts(info.filename, name)
        if info.flag_bits & 0x1:
            raise SampleImportError(f"{name}: {info.filename} is encrypted",
                                    "zip the files again without a password")
        mode = _unix_mode(info)
        if stat.S_ISLNK(mode):
            raise SampleImportError(f"{name}: {info.filename} is a symbolic link",
                                    "the archive is unsafe; zip the real files instead")
        if info.is_dir() or not parts:
            continue
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            raise SampleImportError(f"{name}: {info.filename} is not a regular file", "zip only audio files")
        if info.file_size > limits.max_member_bytes:
            raise SampleImportError(
                f"{name}: {info.filename} unpacks to {info.file_size / 1e6:.0f} MB "
                f"(at most {limits.max_member_bytes / 1e6:.0f} MB per file)", "split the recording")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise SampleImportError(
                f"{name}: unpacks to more than {limits.max_total_bytes / 1e6:.0f} MB",
                "the archive is too large (or a zip bomb); split it into smaller zips")
        entries.append(ZipEntry(info, parts))
    return entries


def read_entry(archive: zipfile.ZipFile, entry: ZipEntry, name: str) -> bytes:
    """An entry's bytes, never more than its declared size; corruption is a SampleImportError."""
    try:
        with archive.open(entry.info) as handle:
            data = handle.read(entry.size + 1)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, OSError, RuntimeError,
            zlib.error) as exc:
        raise SampleImportError(f"{name}: {entry.info.filename} is damaged ({str(exc)[:80]})",
                                "download or create the zip again") from exc
    if len(data) != entry.size:
        raise SampleImportError(f"{name}: {entry.info.filename} is damaged (size does not match)",
                                "download or create the zip again")
    return data


def is_ignored(parts: tuple[str, ...]) -> bool:
    """Operating-system litter (macOS resource forks, Finder and Explorer files, hidden files)."""
    return any(p in IGNORED_PARTS or p.startswith(".") for p in parts)


def read_manifest(archive: zipfile.ZipFile, entries: list[ZipEntry], name: str) -> dict[str, str]:
    """For an earshot export: zip folder -> class name. Empty for any other archive."""
    found = [e for e in entries if e.parts == (MANIFEST,)]
    if not found:
        return {}
    try:
        data = json.loads(read_entry(archive, found[0], name).decode("utf-8"))
        if data.get("format") != FORMAT:
            return {}
        return {str(c["folder"]): str(c["name"]) for c in data.get("classes", [])}
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise SampleImportError(f"{name}: {MANIFEST} is damaged ({exc})", "export the samples again") from exc


# -- export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    path: Path
    counts: dict[str, int]

    def summary(self) -> str:
        total = sum(self.counts.values())
        per_class = ", ".join(f"{name} {n}" for name, n in self.counts.items())
        return f"exported {total} samples ({per_class}) to {self.path}"


def export_samples(project: Project, out: Path, *, classes: Iterable[str] | None = None) -> ExportResult:
    """Write the chosen classes' clips (default: all) to the zip `out`, atomically, with a manifest."""
    chosen: list[ClassInfo] = [project.get_class(n) for n in classes] if classes else project.classes
    counts = {info.name: project.sample_count(info) for info in chosen}
    if not sum(counts.values()):
        raise SampleImportError("nothing to export: the chosen classes have no samples",
                                "record or import some samples first")
    audio = project.audio
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "project": project.name,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **audio.to_dict(),
        "classes": [{"name": i.name, "folder": i.name, "samples": counts[i.name]} for i in chosen],
    }

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            for info in chosen:
                archive.writestr(zipfile.ZipInfo(f"{info.name}/"), b"")
                for path in project.samples(info):
                    archive.write(path, f"{info.name}/{path.name}")

    out = Path(out)
    if out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    atomic.write_with(out, write)
    return ExportResult(out, counts)
