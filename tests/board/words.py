"""Spoken words from speakers the model never heard, as one track to play into the virtual microphone.

A clip is used only when earshot's own streaming classifier (lab side, the bundle's int8 model) reports
exactly that word once at every alignment of the windows, so a test that plays the track checks the
way to the board (microphone, windows, smoothing, threshold, push), not the model's accuracy.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audio import load
from tests.deploy.conftest import speech_files

SR = 16000
SEQUENCE = ("yes", "no", "stop", "no", "yes", "stop")
GAP_SECONDS = 1.6  # longer than the 1.5 s in which a repeated label is suppressed
OFFSETS = (0, 1000, 2000, 3000)  # window alignments (samples) every chosen clip must survive


@dataclass(frozen=True)
class Track:
    audio: np.ndarray  # float32 [n] at SR
    labels: list[str]
    files: list[Path]

    @property
    def seconds(self) -> float:
        return self.audio.size / SR


def int8_classifier(bundle_zip: Path):  # type: ignore[no-untyped-def]
    """The small CNN's int8 model of an export (also in exports of embedding models)."""
    from core.classifier import Classifier

    with zipfile.ZipFile(bundle_zip) as archive:
        labels = [x for x in archive.read("labels.txt").decode().splitlines() if x]
        metadata = json.loads(archive.read("metadata.json"))
        metadata["model"] = {**metadata.get("model", {}), "kind": "small"}  # the zip's small CNN, whatever
        return Classifier(archive.read("model_int8.tflite"), labels, metadata, str(bundle_zip))


def decisions(classifier, audio: np.ndarray) -> list[str]:  # type: ignore[no-untyped-def]
    from core.infer import StreamingClassifier

    stream = StreamingClassifier(classifier)
    found = stream.feed(audio)
    found += [w.decision for w in stream.flush() if w.decision is not None]
    return [d.label for d in found]


def word_track(bundle_zip: Path, sequence: tuple[str, ...] = SEQUENCE, lead_seconds: float = 1.0,
               classifier=None) -> Track:  # type: ignore[no-untyped-def]
    """The track for the export's small CNN (int8), or for `classifier` (e.g. its embedding model)."""
    classifier = classifier or int8_classifier(bundle_zip)
    candidates = speech_files(training=False)
    gap = np.zeros(int(GAP_SECONDS * SR), dtype=np.float32)
    used: set[Path] = set()
    pieces, files = [np.zeros(int(lead_seconds * SR), dtype=np.float32)], []
    for word in sequence:
        for item in candidates[word]:
            if item.path in used:
                continue
            clip = load(item.path, SR)
            if all(decisions(classifier, np.concatenate([np.zeros(SR // 2 + shift, np.float32), clip, gap]))
                   == [word] for shift in OFFSETS):
                used.add(item.path)
                pieces += [clip, gap]
                files.append(item.path)
                break
        else:
            raise AssertionError(f"no held-out {word!r} clip is recognised reliably: the model is too weak")
    audio = np.concatenate(pieces)
    assert decisions(classifier, audio) == list(sequence)
    return Track(audio, list(sequence), files)
