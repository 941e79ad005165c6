"""`earshot export`'s summary: every accuracy is named with the model it belongs to."""

from __future__ import annotations

from pathlib import Path

from core.export import ExportResult
from earshot.commands.deploy import export_summary

SIZES = {"model.tflite": 40 * 1024, "model_int8.tflite": 14 * 1024}


def result(kind: str, accuracy: dict[str, float]) -> ExportResult:
    return ExportResult(path=Path("p/p-model.zip"), labels=["Background Noise", "music", "speech"],
                        accuracy=accuracy, sizes=SIZES, test_clips=16, seconds=3.0, kind=kind)


def test_an_ear_projects_summary_names_each_model() -> None:
    lines = export_summary(result("speech", {"speech": 1.0, "keras": 0.5625, "float32": 0.5625,
                                             "int8": 0.625}))
    text = "\n".join(lines)
    assert "  speech model: 100.0% on the test split (16 clips; predict.py runs it)" in lines
    micro = lines.index("  microcontroller model (small CNN, what flash puts on a board), same split:")
    assert "float32 56.2%" in lines[micro + 1] and "int8 62.5% (model_int8.tflite)" in lines[micro + 1]
    assert text.index("100.0%") < text.index("56.2%")  # the project's own model comes first
    assert "model_int8.tflite 14.0 KiB (both the small CNN)" in text
    assert max(len(line) for line in lines) <= 80


def test_a_small_projects_summary_has_one_model() -> None:
    lines = export_summary(result("small", {"keras": 0.95, "float32": 0.95, "int8": 0.9375}))
    assert "  test split (16 clips), small CNN: keras 95.0%, float32 95.0%, int8 93.8%" in lines
    assert not any("microcontroller" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
