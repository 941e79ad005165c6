"""Calibration counts on streams whose answer is known, then on a real trained project."""

from __future__ import annotations

import numpy as np
import pytest

from core.calibrate import SMOOTHING, Outcome, heard_seconds, recommend, replay, score_windows, sweep
from core.infer import StreamingClassifier, StreamSettings
from core.spec import AudioSpec
from core.teststream import PlacedSound, SoundStream, audible_bounds, build_stream, gap_after
from tests.live.test_infer import SR, ToneModel, tone


def place(audio: np.ndarray, start: float, piece: np.ndarray) -> None:
    i = int(round(start * SR))
    audio[i:i + piece.size] += piece


def known_stream() -> SoundStream:
    """60 s of silence; listed sounds: low 10.1-10.6, high 20.1-20.6, low 30.1-30.6 (all heard),
    low 45.1-45.6 that is really a high tone (a false activation while a sound plays, and a miss),
    high 50.1-50.6 too quiet to hear (a miss); an unlisted high tone at 40.1 (a false activation)."""
    audio = np.zeros(60 * SR, dtype=np.float32)
    for start, freq in ((10.1, 300), (20.1, 3000), (30.1, 300), (40.1, 3000), (45.1, 3000)):
        place(audio, start, tone(freq, 0.5))
    place(audio, 50.1, tone(3000, 0.5, amplitude=0.001))
    sounds = [PlacedSound("low", 10.1, 10.6), PlacedSound("high", 20.1, 20.6), PlacedSound("low", 30.1, 30.6),
              PlacedSound("low", 45.1, 45.6), PlacedSound("high", 50.1, 50.6)]
    return SoundStream(audio, SR, sounds)


@pytest.mark.parametrize(("threshold", "smooth", "delay_ms"), [
    (0.5, 1, -350.0),  # the first window that hears the tone ends at x.25
    (0.5, 3, -100.0),  # two of three windows: 2/3 >= 0.5 at x.50
    (0.7, 3, 150.0),   # all three windows at x.75
])
def test_counts_on_a_stream_with_a_known_answer(threshold: float, smooth: int, delay_ms: float) -> None:
    stream = known_stream()
    track = score_windows(ToneModel(), stream)
    assert len(track.times) == (60 * SR - SR) // (SR // 4) + 1
    [outcome] = sweep(track, stream, ToneModel.audio, thresholds=(threshold,), smoothing=(smooth,))
    assert (outcome.sounds, outcome.detected, outcome.false_activations, outcome.confusions) == (5, 3, 2, 1)
    assert outcome.miss_rate == pytest.approx(0.4)
    assert outcome.false_per_hour == pytest.approx(2 / (60 / 3600))
    assert outcome.delay_ms == pytest.approx(delay_ms, abs=1e-6)


def test_a_silent_stream_misses_every_sound_and_reports_nothing() -> None:
    silent = SoundStream(np.zeros(30 * SR, np.float32), SR, known_stream().sounds[:1])
    [none] = sweep(score_windows(ToneModel(), silent), silent, ToneModel.audio, thresholds=(0.5,),
                   smoothing=(1,))
    assert (none.detected, none.false_activations, none.confusions, none.miss_rate, none.delay_ms) == \
        (0, 0, 0, 1.0, None)


@pytest.mark.parametrize("settings", [StreamSettings(smooth_windows=3, threshold=0.5),
                                      StreamSettings(smooth_windows=1, threshold=0.9, suppress_seconds=0.3),
                                      StreamSettings(smooth_windows=5, threshold=0.6, hop_seconds=0.1)])
def test_replaying_stored_scores_decides_exactly_as_the_live_classifier(settings: StreamSettings) -> None:
    stream = known_stream()
    live = StreamingClassifier(ToneModel(), settings)
    expected = []
    for start in range(0, stream.audio.size, 1234):  # odd block size: windows must not depend on it
        expected += [(d.time, d.label) for d in live.feed(stream.audio[start:start + 1234])]
    track = score_windows(ToneModel(), stream, hop_seconds=settings.hop_seconds)
    assert replay(track, ToneModel.audio, settings) == expected
    assert len(expected) >= 4


class BatchToneModel(ToneModel):
    """The tone model with `scores_batch`, counting how it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def scores_batch(self, clips: np.ndarray) -> np.ndarray:
        self.batches += 1
        return np.stack([self.scores(c) for c in clips])


def test_batched_scoring_gives_the_same_windows_as_one_by_one() -> None:
    stream = known_stream()
    one = score_windows(ToneModel(), stream)
    model = BatchToneModel()
    batched = score_windows(model, stream)
    assert np.array_equal(one.times, batched.times) and np.array_equal(one.raw, batched.raw)
    assert model.batches == -(-len(one.times) // 32) and model.calls == len(one.times)


def test_the_stream_is_the_same_for_a_seed_and_places_each_sound_where_it_says(
        rng: np.random.Generator) -> None:
    def padded(before: int, piece: np.ndarray, after: int) -> np.ndarray:
        return np.concatenate([np.zeros(before, np.float32), piece, np.zeros(after, np.float32)])

    clips = [("low", padded(SR // 4, tone(300, 0.5), SR // 4)),
             ("high", padded(SR // 2, tone(3000, 0.3), SR // 5))]
    noise = [rng.normal(0, 0.001, n * SR).astype(np.float32) for n in (20, 7)]
    a = build_stream(clips, noise, sample_rate=SR, seconds=120, seed=3)
    b = build_stream(clips, noise, sample_rate=SR, seconds=120, seed=3)
    c = build_stream(clips, noise, sample_rate=SR, seconds=120, seed=4)
    assert np.array_equal(a.audio, b.audio) and a.sounds == b.sounds
    assert not np.array_equal(a.audio, c.audio)
    assert a.audio.size == 120 * SR and 14 <= len(a.sounds) <= 24
    assert {s.label for s in a.sounds} == {"low", "high"}
    for s in a.sounds:
        assert s.end - s.start == pytest.approx(0.5 if s.label == "low" else 0.3, abs=0.011)
        inside = a.audio[int(s.start * SR) + 100:int(s.end * SR) - 100]
        assert np.sqrt(np.mean(inside ** 2)) > 0.1  # the tone is there
    gaps = [b.start - a_.end for a_, b in zip(a.sounds, a.sounds[1:], strict=False)]
    assert min(gaps) >= 3.0
    between = a.audio[int(a.sounds[0].end * SR) + SR // 10:int(a.sounds[1].start * SR) - SR // 10]
    assert np.sqrt(np.mean(between ** 2)) < 0.01  # only noise between sounds


def test_audible_bounds_finds_a_tone_between_silences() -> None:
    clip = np.concatenate([np.zeros(4000, np.float32), tone(440, 0.25), np.zeros(4000, np.float32)])
    first, last = audible_bounds(clip, SR)
    assert first == 4000 and last == 8000


def outcome(threshold: float, smooth: int, false: float, miss: float, delay: float = 100.0) -> Outcome:
    return Outcome(threshold, smooth, 100, round(100 * (1 - miss)), int(false), 0, false, miss, delay)


def test_the_recommendation_has_the_fewest_false_activations_within_3_points_of_the_default() -> None:
    default = outcome(0.5, 3, 30, 0.10)
    curve = [default, outcome(0.3, 1, 90, 0.01), outcome(0.5, 1, 40, 0.04), outcome(0.7, 1, 6, 0.12),
             outcome(0.6, 3, 12, 0.13), outcome(0.7, 3, 0, 0.30), outcome(0.6, 4, 9, 0.131)]
    chosen = recommend(curve, default, hours=1.0)
    assert (chosen.threshold, chosen.smooth) == (0.7, 1)  # 0.7/3 misses too many, 0.6/4 0.1 point too many


def test_the_default_stays_unless_the_gain_is_more_than_chance() -> None:
    default = outcome(0.5, 3, 30, 0.10)
    one_less = [default, outcome(0.55, 3, 28, 0.10)]  # 1 event in a 30-minute stream
    assert recommend(one_less, default, hours=0.5) is default
    clear = [default, outcome(0.55, 3, 20, 0.10)]  # 5 events, a third of them
    assert recommend(clear, default, hours=0.5).threshold == 0.55


def test_ties_go_to_the_setting_in_the_middle_of_a_quiet_region() -> None:
    default = outcome(0.4, 1, 12, 0.02)
    curve = [outcome(t, s, 0 if (t, s) != (0.4, 1) else 12, 0.02) for t in (0.4, 0.5, 0.6) for s in (1, 2, 3)]
    curve[0] = default
    chosen = recommend(curve, default, hours=1.0)
    assert chosen.false_per_hour == 0 and (chosen.threshold, chosen.smooth) not in {(0.5, 1), (0.4, 2)}


class LateToneModel(ToneModel):
    """A 3 s model that hears only the first second of its window, like one trained on clips whose
    sound sits at their start: it reports a sound 2-3 s after it ends."""

    audio = AudioSpec(sample_rate=SR, clip_seconds=3.0)

    def scores(self, clip: np.ndarray) -> np.ndarray:
        assert clip.shape == (3 * SR,)
        return super().scores(clip[:SR])


def test_a_late_hit_on_3_s_clips_counts_for_its_own_sound_while_the_next_one_plays() -> None:
    """low 10.0-10.5 then high 12.5-13.0: with smoothing 3 at 0.7 the low is reported at 12.75 (all three
    windows ending 12.25-12.75 start on it) while the high already plays, the high at 15.25."""
    audio = np.zeros(20 * SR, dtype=np.float32)
    place(audio, 10.0, tone(300, 0.5))
    place(audio, 12.5, tone(3000, 0.5))
    stream = SoundStream(audio, SR, [PlacedSound("low", 10.0, 10.5), PlacedSound("high", 12.5, 13.0)])
    [outcome] = sweep(score_windows(LateToneModel(), stream), stream, LateToneModel.audio, thresholds=(0.7,),
                      smoothing=(3,))
    assert (outcome.detected, outcome.false_activations, outcome.confusions) == (2, 0, 0)
    assert outcome.delay_ms == pytest.approx(2250.0, abs=1e-6)


def test_sounds_of_3_s_clips_are_placed_so_each_span_ends_1_s_before_the_next_sound() -> None:
    longest = heard_seconds(3.0, max(SMOOTHING), 0.25)
    assert longest == 4.25 and gap_after(longest) == (5.25, 9.25) and gap_after(1.0) == (3.0, 7.0)
    clips = [("low", tone(300, 3.0)), ("high", tone(3000, 3.0))]
    stream = build_stream(clips, [np.full(SR, 0.01, np.float32)], sample_rate=SR, seconds=300, seed=1,
                          gap_seconds=gap_after(longest))
    assert len(stream.sounds) >= 20
    gaps = [b.start - (a.end + longest) for a, b in zip(stream.sounds, stream.sounds[1:], strict=False)]
    assert min(gaps) >= 1.0 - 0.06  # the 50 ms kept around each sound
