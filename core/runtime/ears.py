"""The registry of pretrained ears (embedding front ends) the runtime can run.

Each ear is one module with NAME, VERSION, FILES (the weight files it needs), DIMENSIONS,
INSTALL_HINT, `installed_files() -> {name: path}` and `open_ear(files: {name: bytes}, sample_rate)`
returning an object with `embed(clips float32 [n, samples]) -> float32 [n, DIMENSIONS]`.
Adding an ear: its module and one line below. Python 3.7 syntax; copied verbatim into bundles.
"""

from __future__ import annotations

from types import ModuleType
from typing import Dict

from . import music, speech

EARS: Dict[str, ModuleType] = {module.NAME: module for module in (speech, music)}


def ear_module(name: str) -> ModuleType:
    """The module of the ear called `name` (KeyError naming the known ones otherwise)."""
    if name not in EARS:
        raise KeyError("unknown ear {!r} (known: {})".format(name, ", ".join(sorted(EARS))))
    return EARS[name]
