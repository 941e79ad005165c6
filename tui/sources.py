"""Where the app gets audio: the microphones, behind a small interface handed to the App.

The default backend lists PortAudio input devices; tests hand in their own (for example one that
opens the PulseAudio virtual microphone, or a WavFileSource). Heavy imports happen on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.capture import AudioSource


class AudioBackend(Protocol):
    """`live = True` (optional) marks real microphones, whose level is shown before recording."""

    def microphones(self) -> list[tuple[str, str]]:
        """(key, label) of each microphone, the default first; raises CaptureError if there is no audio."""
        ...

    def open_microphone(self, key: str | None, sample_rate: int) -> AudioSource:
        """A not yet started source for the microphone `key` (None: the default one)."""
        ...


# PortAudio's names for the sound system's own devices, as a person would call them.
PLAIN_NAMES = {
    "default": "System default input",
    "sysdefault": "System default input (ALSA)",
    "pulse": "PulseAudio sound server",
    "pipewire": "PipeWire sound server",
}


def microphone_label(name: str, *, is_default: bool) -> str:
    """A device name a person recognises: "USB Audio Device" rather than "USB Audio Device: - (hw:2,0)"."""
    plain = PLAIN_NAMES.get(name.strip().lower())
    if plain is None:
        plain = name.split(" (hw:")[0].replace(": -", "").strip() or name
        if "(hw:" in name:
            plain += f" [{name.split('(hw:')[1].rstrip(')')}]"
    return f"{plain} (default)" if is_default else plain


class PortAudioBackend:
    """Microphones as PortAudio (sounddevice) lists them."""

    live = True  # real microphones: the record dialog shows their level before recording

    def microphones(self) -> list[tuple[str, str]]:
        from core.capture import list_input_devices

        devices = sorted(list_input_devices(), key=lambda d: not d.is_default)
        return [(str(d.index), microphone_label(d.name, is_default=d.is_default)) for d in devices]

    def open_microphone(self, key: str | None, sample_rate: int) -> AudioSource:
        from core.capture import MicrophoneSource

        return MicrophoneSource(sample_rate, int(key) if key is not None and key.isdigit() else key)


def default_backend() -> AudioBackend:
    return PortAudioBackend()
