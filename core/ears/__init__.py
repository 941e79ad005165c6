"""Pretrained ears in earshot: which are installed, their cached embeddings of a project's clips.

An ear is a frozen pretrained network that turns a clip into a vector (`core.runtime.ears` holds the
registry and the code that runs them, shared with exports and boards). Model kinds:

    small          the DS-CNN on log-mel (core.model): trains from scratch, fits a microcontroller
    speech         Google's speech_embedding (openWakeWord's TFLite files) + a trained head
    music          musicnn's MSD model (converted to TFLite at install) + a trained head
    speech+music   both embeddings side by side + a trained head
    auto           chosen per project by cross-validation (core.ears.choose)

Weights come from the packages the install step puts in the venv; nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.dataset import read_cache, write_cache
from core.errors import TrainingError
from core.runtime.bundle import SMALL
from core.runtime.ears import EARS, ear_module
from core.spec import AudioSpec

AUTO = "auto"
EAR_NAMES = tuple(EARS)  # ("speech", "music")
KINDS = (AUTO, *EAR_NAMES, SMALL)
COMBINED = "+".join(EAR_NAMES)


class EarError(TrainingError):
    """An ear's weights are missing or damaged; the hint says how to install them."""


def kind_ears(kind: str) -> list[str]:
    """The ears a model kind uses ("speech+music" -> ["speech", "music"]); [] for small."""
    if kind == SMALL:
        return []
    names = kind.split("+")
    unknown = [n for n in names if n not in EARS]
    if unknown or not names:
        raise TrainingError(f"unknown model kind {kind!r}", f"use one of: {', '.join(KINDS)}")
    return names


def check_kind(kind: str) -> str:
    if kind != AUTO:
        kind_ears(kind)
    return kind


def weight_files(name: str) -> dict[str, bytes]:
    """The installed weight files of ear `name`, read; EarError (one line, with the fix) if absent."""
    module = ear_module(name)
    installed = module.installed_files()
    missing = [f for f in module.FILES if f not in installed]
    if missing:
        raise EarError(f"the {name} model's weights are not installed ({', '.join(missing)} missing)",
                       module.INSTALL_HINT)
    try:
        return {f: Path(installed[f]).read_bytes() for f in module.FILES}
    except OSError as exc:
        raise EarError(f"the {name} model's weights cannot be read ({exc})", module.INSTALL_HINT) from exc


def open_ear(name: str, sample_rate: int) -> Any:
    """A ready ear (its `embed(clips)`); EarError when its weights are missing or damaged."""
    files = weight_files(name)
    try:
        ear = ear_module(name).open_ear(files, sample_rate)
        ear.embed(np.zeros((1, sample_rate), np.float32))  # first runs print banners: here, quietly
        return ear
    except (ValueError, RuntimeError, KeyError) as exc:
        raise EarError(f"the {name} model's weights are damaged ({str(exc).splitlines()[0][:80]})",
                       ear_module(name).INSTALL_HINT) from exc


def available_ears() -> dict[str, str]:
    """{ear: ""} for installed ears, {ear: "why not"} for the others (does not load them)."""
    status = {}
    for name in EAR_NAMES:
        module = ear_module(name)
        missing = [f for f in module.FILES if f not in module.installed_files()]
        status[name] = f"not installed: {module.INSTALL_HINT}" if missing else ""
    return status


def cache_folder(cache_dir: Path, name: str, audio: AudioSpec) -> Path:
    """Where ear `name` keeps one `.npy` per clip (named by the clip's content hash)."""
    module = ear_module(name)
    return cache_dir / "ears" / f"{name}-v{module.VERSION}-{audio.sample_rate}-{audio.clip_seconds:g}"


def embeddings(paths: Sequence[Path], audio: AudioSpec, name: str, cache_dir: Path | None, *,
               on_progress: Callable[[int, int], None] | None = None, batch: int = 64,
               ear: Any = None) -> np.ndarray:
    """Embeddings of clip files by ear `name`: `float32 [n, dimensions]`, each computed once per clip
    content and ear version (cached under `cache_dir/ears/`)."""
    from core.audio import load
    from core.runtime.audio import fit_clip

    module = ear_module(name)
    out = np.zeros((len(paths), module.DIMENSIONS), dtype=np.float32)
    folder = cache_folder(cache_dir, name, audio) if cache_dir is not None else None
    missing: list[tuple[int, str]] = []
    for i, path in enumerate(paths):
        digest, value = read_cache(folder, path, (module.DIMENSIONS,))
        if value is None:
            missing.append((i, digest))
        else:
            out[i] = value
    if not missing:
        return out
    ear = ear or open_ear(name, audio.sample_rate)
    for first in range(0, len(missing), batch):
        chunk = missing[first:first + batch]
        clips = np.stack([fit_clip(load(paths[i], audio.sample_rate), audio.clip_samples) for i, _ in chunk])
        values = ear.embed(clips)
        for (i, digest), value in zip(chunk, values, strict=True):
            out[i] = value
            if folder is not None:
                write_cache(folder / f"{digest}.npy", value)
        if on_progress is not None:
            on_progress(min(first + batch, len(missing)), len(missing))
    return out


def kind_embeddings(paths: Sequence[Path], audio: AudioSpec, kind: str, cache_dir: Path | None, *,
                    on_progress: Callable[[str, int, int], None] | None = None) -> np.ndarray:
    """The head's input for `kind`: its ears' embeddings side by side, `float32 [n, sum of dimensions]`."""
    parts = []
    for name in kind_ears(kind):
        report = (lambda done, total, n=name: on_progress(n, done, total)) if on_progress else None
        parts.append(embeddings(paths, audio, name, cache_dir, on_progress=report))
    return np.concatenate(parts, axis=1)
