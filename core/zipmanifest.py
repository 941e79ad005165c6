"""What a zip made by Download Sample says about itself: the classes its manifest names."""

from __future__ import annotations

from pathlib import Path

from core.samplezip import ZipLimits, open_archive, read_manifest, safe_entries


def manifest_classes(path: Path) -> list[str]:
    """Class names in the manifest of an earshot sample zip, in order; [] for any other file.

    Raises SampleImportError for a damaged zip or manifest (the same error the upload would give).
    """
    path = Path(path)
    if path.suffix.lower() != ".zip" or not path.is_file():
        return []
    with open_archive(path) as archive:
        entries = safe_entries(archive, path.name, ZipLimits())
        return list(dict.fromkeys(read_manifest(archive, entries, path.name).values()))
