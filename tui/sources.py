"""Where the app gets audio: the microphones, behind a small interface handed to the App.

The default backend lists PortAudio input devices; tests hand in their own (for example one that
opens the PulseAudio virtual microphone, or a WavFileSource). Heavy imports happen on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.capture import AudioSource


class AudioBackend(Protocol):
    def microphones(self) -> list[tuple[str, str]]:
        """(key, label) of each microphone, the default first; raises CaptureError if there is no audio."""
        ...

    def open_microphone(self, key: str | None, sample_rate: int) -> AudioSource:
        """A not yet started source for the microphone `key` (None: the default one)."""
        ...


class PortAudioBackend:
    """Microphones as PortAudio (sounddevice) lists them."""

    def microphones(self) -> list[tuple[str, str]]:
        from core.capture import list_input_devices

        devices = sorted(list_input_devices(), key=lambda d: not d.is_default)
        return [(str(d.index), f"{d.name}{' (default)' if d.is_default else ''}") for d in devices]

    def open_microphone(self, key: str | None, sample_rate: int) -> AudioSource:
        from core.capture import MicrophoneSource

        return MicrophoneSource(sample_rate, int(key) if key is not None and key.isdigit() else key)


def default_backend() -> AudioBackend:
    return PortAudioBackend()
