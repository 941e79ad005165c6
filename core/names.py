"""Names: class names users type, the folder names made from them, and content-hashed clip names."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np

from core.errors import ProjectError

MAX_NAME_LENGTH = 40


def validate_class_name(name: str) -> str:
    """Return the cleaned name, or raise ProjectError saying what is wrong with it."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise ProjectError("a class name cannot be empty", "type a name of 1-40 characters")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ProjectError(f"class name {cleaned[:20]!r}... is longer than {MAX_NAME_LENGTH} characters",
                           "use a shorter name")
    if "/" in cleaned or "\\" in cleaned:
        raise ProjectError(f"class name {cleaned!r} contains a path separator", "remove / and \\")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise ProjectError(f"class name {cleaned!r} contains a control character", "use plain text")
    if cleaned in {".", ".."}:
        raise ProjectError(f"class name {cleaned!r} is not allowed", "use letters or digits")
    return cleaned


def slugify(name: str) -> str:
    """A folder-safe ASCII form of a class name (may be empty)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:32]


def clip_digest(clip: np.ndarray) -> str:
    """12 hex digits identifying a clip's samples."""
    return hashlib.sha1(np.ascontiguousarray(clip, dtype=np.float32).tobytes()).hexdigest()[:12]


def clip_file_name(clip: np.ndarray, prefix: str) -> str:
    """A sample's file name: a readable prefix and a hash of its content."""
    safe_prefix = slugify(prefix) or "clip"
    return f"{safe_prefix}-{clip_digest(clip)}.wav"


def name_digest(path: Path) -> str:
    """The content hash in a sample's file name ('' for names earshot did not make)."""
    tail = Path(path).stem.rsplit("-", 1)[-1]
    return tail if re.fullmatch(r"[0-9a-f]{12}", tail) else ""
