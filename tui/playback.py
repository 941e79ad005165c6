"""Play a clip on the default sound output (runs in workers; raises AudioError)."""

from __future__ import annotations

from pathlib import Path

from core.errors import AudioError


def play_file(path: Path, sample_rate: int) -> None:
    """Play `path` at `sample_rate` and wait until it has been heard."""
    from core.audio import load
    from core.capture import sounddevice

    sd = sounddevice()
    y = load(path, sample_rate)
    try:
        sd.play(y, sample_rate)
        sd.wait()
    except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error types
        raise AudioError(f"cannot play {path.name}: {exc}", "check the sound output device") from exc
