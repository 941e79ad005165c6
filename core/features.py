"""The log-mel front end (the small CNN's input), as earshot imports it.

The implementation lives in `core.runtime.logmel`, the dependency-free runtime that exports copy
verbatim, so training, live inference and the exported predictor compute the same numbers.
"""

from __future__ import annotations

from core.runtime.audio import fit_clip
from core.runtime.logmel import (
    analysis_window,
    log_mel,
    log_mel_batch,
    mel_filterbank,
    mel_power_batch,
    power_to_db,
)

__all__ = ["analysis_window", "fit_clip", "log_mel", "log_mel_batch", "mel_filterbank", "mel_power_batch",
           "power_to_db"]
