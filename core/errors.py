"""Errors the engine raises on purpose: a one-line message and a hint that says what to do."""

from __future__ import annotations


class EarshotError(Exception):
    """An expected failure with a message for the user and an optional hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ProjectError(EarshotError):
    """The project folder, its classes or its settings."""


class ProjectLockedError(ProjectError):
    """Another process is writing the same project."""


class AudioError(EarshotError):
    """An audio file that cannot be read or written."""


class SampleImportError(EarshotError):
    """An upload (zip, folder or files) that cannot be imported."""


class TrainingError(EarshotError):
    """Training data or training itself."""


class ModelError(EarshotError):
    """A trained model that is missing, broken or incompatible."""


class CaptureError(EarshotError):
    """Microphones and recording."""


class DeployError(EarshotError):
    """Export and flashing to a board."""


class PushError(EarshotError):
    """Publishing results to an MQTT broker."""
