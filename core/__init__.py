"""earshot's engine: projects, audio, segmentation, training, inference and deployment.

Nothing here imports textual or rich, prints, or reads the terminal: callers get return values,
events and `EarshotError`s.
"""

from __future__ import annotations

__version__ = "0.1.0"
