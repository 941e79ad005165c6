"""Streaming classification with a model whose answer is known: tones at two pitches."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.capture import WavFileSource
from core.errors import CaptureError
from core.infer import Decision, StreamingClassifier, StreamSettings, listen
from core.spec import BACKGROUND_NOISE, AudioSpec

SR = 16000


class ToneModel:
    """Background Noise for quiet windows, else "low" or "high" by where the spectrum's energy is."""

    labels = [BACKGROUND_NOISE, "low", "high"]
    audio = AudioSpec(sample_rate=SR, clip_seconds=1.0)

    def __init__(self) -> None:
        self.calls = 0

    def scores(self, clip: np.ndarray) -> np.ndarray:
        assert clip.shape == (SR,) and clip.dtype == np.float32
        self.calls += 1
        power = np.abs(np.fft.rfft(clip)) ** 2
        low, high = power[:1000].sum(), power[1000:].sum()  # 1 Hz bins: below and above 1 kHz
        energy = float(np.mean(clip.astype(np.float64) ** 2))
        quiet = 1.0 if energy < 1e-4 else 0.0
        total = low + high + 1e-12
        loud = 1.0 - quiet
        return np.array([quiet, loud * low / total, loud * high / total], dtype=np.float32)


def tone(freq: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def stream() -> np.ndarray:
    """2 s silence, 0.5 s low tone, 2 s silence, 0.5 s high tone, 2 s silence."""
    return np.concatenate([silence(2), tone(300, 0.5), silence(2), tone(3000, 0.5), silence(2)])


def run(audio: np.ndarray, block_sizes: list[int], settings: StreamSettings | None = None):
    classifier = StreamingClassifier(ToneModel(), settings)
    windows = []
    position, i = 0, 0
    while position < audio.size:
        size = block_sizes[i % len(block_sizes)]
        windows += classifier.process(audio[position:position + size])
        position += size
        i += 1
    return windows


def test_one_decision_per_sound_at_the_right_time() -> None:
    windows = run(stream(), [1600])
    decisions = [w.decision for w in windows if w.decision]
    assert [d.label for d in decisions] == ["low", "high"]
    # The low tone spans 2.0-2.5 s: it is reported by a window ending after it starts, within a clip.
    assert 2.0 < decisions[0].time <= 3.5
    assert 4.5 < decisions[1].time <= 6.0
    assert decisions[0].confidence >= 0.6
    assert set(decisions[0].scores) == set(ToneModel.labels)
    assert sum(decisions[0].scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_windows_fall_on_hop_boundaries() -> None:
    windows = run(silence(3.0), [1000])
    assert [w.time for w in windows] == [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0]


@pytest.mark.parametrize("sizes", [[1], [7, 13], [160], [1023], [4000], [16000], [50000], [120000]])
def test_results_do_not_depend_on_block_size(sizes: list[int]) -> None:
    audio = stream() if sizes != [1] else stream()[: 5 * SR]
    reference = run(audio, [1600])
    windows = run(audio, sizes)
    assert len(windows) == len(reference)
    for a, b in zip(windows, reference, strict=True):
        assert a.time == b.time
        np.testing.assert_array_equal(a.raw, b.raw)
        np.testing.assert_array_equal(a.smoothed, b.smoothed)
        assert a.decision == b.decision


def test_random_block_sizes_match(rng: np.random.Generator) -> None:
    audio = stream()
    sizes = [int(s) for s in rng.integers(1, 9000, size=200)]
    assert [w.decision for w in run(audio, sizes)] == [w.decision for w in run(audio, [4000])]


def test_a_long_sound_is_reported_once_and_a_repeat_after_a_pause_again() -> None:
    audio = np.concatenate([silence(1), tone(300, 4.0), silence(2), tone(300, 0.5), silence(2)])
    decisions = [w.decision for w in run(audio, [800]) if w.decision]
    assert [d.label for d in decisions] == ["low", "low"]
    assert decisions[1].time > 7.0


def test_threshold_and_background_reporting() -> None:
    audio = stream()
    quiet = [w.decision for w in run(audio, [800], StreamSettings(threshold=1.0)) if w.decision]
    assert quiet == []
    with_background = run(audio, [800], StreamSettings(report_background=True))
    labels = [w.decision.label for w in with_background if w.decision]
    assert labels == [BACKGROUND_NOISE, "low", BACKGROUND_NOISE, "high", BACKGROUND_NOISE]


def test_smoothing_averages_the_last_windows() -> None:
    windows = run(stream(), [1600], StreamSettings(smooth_windows=3))
    for i in range(2, len(windows)):
        expected = np.mean([windows[j].raw for j in range(i - 2, i + 1)], axis=0)
        np.testing.assert_allclose(windows[i].smoothed, expected, rtol=1e-6)


def test_flush_classifies_the_tail_of_a_finite_stream() -> None:
    classifier = StreamingClassifier(ToneModel())
    decisions = classifier.feed(np.concatenate([silence(1.0), tone(3000, 0.4)]))
    assert decisions == []  # the tone is only in one window so far
    tail = [w.decision for w in classifier.flush() if w.decision]
    assert [d.label for d in tail] == ["high"]


def test_decision_to_dict_is_plain_json() -> None:
    decision = Decision(1.23456, "yes", 0.876543, {"yes": 0.876543, "no": 0.1234})
    assert decision.to_dict() == {"time": 1.235, "label": "yes", "confidence": 0.8765,
                                  "scores": {"yes": 0.8765, "no": 0.1234}}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(CaptureError, match="threshold"):
        StreamSettings(threshold=1.5)
    with pytest.raises(CaptureError, match="hop"):
        StreamSettings(hop_seconds=0)


def test_listen_reads_a_file_source_to_its_end() -> None:
    source = WavFileSource.from_array(stream(), SR, speed=0, block_seconds=0.037)
    found: list[Decision] = []
    with source:
        summary = listen(source, StreamingClassifier(ToneModel()), on_decision=found.append)
    assert [d.label for d in found] == ["low", "high"]
    assert summary.reason == "end" and summary.decisions == 2
    assert summary.seconds >= 7.0


def test_listen_stops_after_seconds_and_on_cancel() -> None:
    source = WavFileSource.from_array(stream(), SR, speed=0)
    with source:
        summary = listen(source, StreamingClassifier(ToneModel()), seconds=3.0)
    assert summary.reason == "seconds" and summary.seconds == pytest.approx(3.0)
    cancel = threading.Event()
    cancel.set()
    with WavFileSource.from_array(stream(), SR, speed=0) as source:
        assert listen(source, StreamingClassifier(ToneModel()), cancel=cancel).reason == "cancelled"


def test_listen_refuses_a_source_at_another_rate() -> None:
    with pytest.raises(CaptureError, match="Hz"):
        listen(WavFileSource.from_array(silence(1), 8000), StreamingClassifier(ToneModel()))
