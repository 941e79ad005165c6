"""Loudness: dBFS levels of audio blocks, and the thresholds (dBFS) that decide "silent", named once
so that capture, extraction and the app agree on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOOR_DB = -100.0
# peak of a recording's first seconds below this: a dead, muted or unplugged input (~3 LSB at 16 bits)
DEAD_INPUT_DB = -80.0
# a window whose RMS is below this is silence: never kept as a sample
SILENT_WINDOW_DB = -70.0
# peaks below this: the microphone looks silent (the app's level meter, and a finished recording)
QUIET_INPUT_DB = -55.0


def db(value: float) -> float:
    """Amplitude to dBFS, floored at FLOOR_DB."""
    return max(FLOOR_DB, 20.0 * math.log10(value)) if value > 0 else FLOOR_DB


@dataclass(frozen=True)
class Level:
    """Loudness of the latest audio: RMS and peak in dBFS (0 dB is full scale)."""

    rms_db: float = FLOOR_DB
    peak_db: float = FLOOR_DB

    @classmethod
    def of(cls, block: np.ndarray) -> Level:
        if block.size == 0:
            return cls()
        return cls(db(float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))),
                   db(float(np.max(np.abs(block)))))
