"""The microphone picker used by the record dialog and the Validate tab: lists the microphones in a
worker (PortAudio can be slow to answer), the default first; the listing message then bubbles to
the owner, which says what to do when there is none."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.widgets import Select

from core.errors import EarshotError
from tui.messages import MicrophonesListed
from tui.screens.base import ReportsWorkerFailures
from tui.sources import AudioBackend


class MicrophoneSelect(ReportsWorkerFailures, Select[str]):
    def __init__(self, microphones: AudioBackend, **kwargs: Any) -> None:
        super().__init__([], prompt="Microphone", allow_blank=True, **kwargs)
        self.microphones = microphones
        self.listed = False
        self._asked = False

    def ensure_listed(self) -> None:
        """List the microphones once (the owner calls this when it is first shown)."""
        if not self._asked:
            self._asked = True
            self.list_microphones()

    @work(thread=True, exclusive=True, exit_on_error=False, group="mics", description="List microphones")
    def list_microphones(self) -> None:
        try:
            self.post_message(MicrophonesListed(self.microphones.microphones()))
        except EarshotError as error:
            self.post_message(MicrophonesListed([], error))

    def on_microphones_listed(self, message: MicrophonesListed) -> None:
        self.listed = True
        if message.error is None:
            self.set_options([(label, key) for key, label in message.microphones])
            if message.microphones:
                self.value = message.microphones[0][0]

    @property
    def key(self) -> str | None:
        """The chosen microphone's key, or None for the system default."""
        return None if self.is_blank() else str(self.value)
