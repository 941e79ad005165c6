"""Extraction: synthetic signals whose answer is known, then real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio import load
from core.errors import AudioError
from core.segment import DROP_CLIPPED, DROP_NO_EVENTS, DROP_SILENT, DROP_TOO_SHORT, extract, find_events
from core.spec import AudioSpec
from tests.foundation.helpers import SR, bursts, tone

AUDIO = AudioSpec(sample_rate=SR, clip_seconds=1.0)
CENTRES = [1.5, 3.2, 6.0, 9.1, 12.4, 15.0, 18.3]


def clip_centres(result) -> list[float]:
    return [(s + AUDIO.clip_samples / 2) / SR for s in result.starts]


def test_events_finds_exactly_the_bursts_between_silences() -> None:
    result = extract(bursts(CENTRES), AUDIO, mode="events")
    assert result.mode == "events" and result.events == len(CENTRES)
    assert len(result.clips) == len(CENTRES) and not result.dropped
    assert clip_centres(result) == pytest.approx(CENTRES, abs=0.02)  # one 20 ms frame
    for clip in result.clips:
        assert clip.shape == (SR,) and clip.dtype == np.float32
        # the whole burst is inside the clip, with silence on both sides
        assert np.abs(clip[:3000]).max() == 0 and np.abs(clip[-3000:]).max() == 0
        assert np.abs(clip[6000:10000]).max() > 0.4


def test_events_in_faint_noise_ignore_the_noise(rng: np.random.Generator) -> None:
    result = extract(bursts(CENTRES, noise=0.003, rng=rng), AUDIO, mode="events")
    assert len(result.clips) == len(CENTRES)
    assert clip_centres(result) == pytest.approx(CENTRES, abs=0.02)
    assert result.noise_floor_dbfs == pytest.approx(-50.5, abs=2.0)


def test_a_dc_offset_is_not_sound(rng: np.random.Generator) -> None:
    """A cheap microphone's constant offset neither hides events nor makes silence 'sound'."""
    result = extract(bursts(CENTRES, noise=0.003, rng=rng) + np.float32(0.2), AUDIO, mode="events")
    assert clip_centres(result) == pytest.approx(CENTRES, abs=0.02)
    offset_only = extract(np.full(5 * SR, 0.2, np.float32), AUDIO, mode="fixed")
    assert offset_only.clips == [] and offset_only.dropped == {DROP_SILENT: 5}


def test_an_event_longer_than_a_clip_gets_consecutive_windows() -> None:
    y = np.zeros(20 * SR, dtype=np.float32)
    y[5 * SR : int(7.5 * SR)] = tone(2.5)  # 2.5 s of sound from 5.0 to 7.5 s
    result = extract(y, AUDIO, mode="events")
    assert result.events == 1 and len(result.clips) == 3
    assert [s / SR for s in result.starts] == pytest.approx([4.75, 5.75, 6.75], abs=0.02)


def test_events_close_together_are_one_event_and_clicks_are_ignored() -> None:
    y = bursts([4.0, 4.35], burst=0.2)  # two syllables 0.15 s apart: one word
    y[12 * SR : 12 * SR + 300] = 0.5  # a 19 ms click
    result = extract(y, AUDIO, mode="events")
    assert result.events == 1
    assert clip_centres(result) == pytest.approx([4.175], abs=0.02)


def test_quiet_background_sounds_are_not_takes() -> None:
    y = bursts([3.0, 8.0, 13.0])
    y += bursts([5.5], burst=0.3) * 0.01  # 40 dB quieter
    result = extract(y, AUDIO, mode="events")
    assert len(result.clips) == 3 and result.dropped == {"too quiet": 1}


def test_continuous_sound_falls_back_to_fixed_windows(rng: np.random.Generator) -> None:
    t = np.arange(20 * SR) / SR
    music = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
             + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    result = extract(music, AUDIO, mode="events")
    assert result.mode == "fixed" and result.requested_mode == "events" and result.fell_back
    assert len(result.clips) == 20 and "continuous" in result.summary()


def test_a_steady_tone_is_continuous_but_quiet_room_tone_is_not_a_take(rng: np.random.Generator) -> None:
    assert extract(tone(5.0, amplitude=0.3), AUDIO, mode="events").mode == "fixed"
    room = (rng.standard_normal(10 * SR) * 0.002).astype(np.float32)  # -54 dBFS
    result = extract(room, AUDIO, mode="events")
    assert result.clips == [] and result.dropped == {DROP_NO_EVENTS: 1}


def test_fixed_mode_cuts_contiguous_windows() -> None:
    y = tone(20.0, amplitude=0.2)
    result = extract(y, AUDIO, mode="fixed")
    assert len(result.clips) == 20 and result.starts == [i * SR for i in range(20)]
    np.testing.assert_array_equal(np.concatenate(result.clips), y)


@pytest.mark.parametrize(("seconds", "clips", "dropped"), [(20.6, 21, {}), (20.4, 20, {DROP_TOO_SHORT: 1}),
                                                           (20.1, 20, {}), (0.4, 1, {})])
def test_fixed_mode_tails(seconds: float, clips: int, dropped: dict[str, int]) -> None:
    result = extract(tone(seconds, amplitude=0.2), AUDIO, mode="fixed")
    assert len(result.clips) == clips and result.dropped == dropped
    if seconds > 20.5:
        assert result.starts[-1] == int(round(seconds * SR)) - SR  # aligned to the end


def test_silent_and_clipped_windows_are_dropped_and_counted() -> None:
    y = tone(10.0, amplitude=0.2)
    y[2 * SR : 4 * SR] = 0.0  # two silent seconds
    y[6 * SR : 7 * SR] = np.clip(tone(1.0, amplitude=3.0), -1, 1)  # an overdriven second
    result = extract(y, AUDIO, mode="fixed")
    assert len(result.clips) == 7
    assert result.dropped == {DROP_SILENT: 2, DROP_CLIPPED: 1}
    assert "2 silent" in result.summary() and "1 clipped" in result.summary()


def test_a_silent_recording_in_events_mode_says_so() -> None:
    result = extract(np.zeros(20 * SR, dtype=np.float32), AUDIO, mode="events")
    assert result.clips == [] and result.dropped == {DROP_NO_EVENTS: 1}
    assert "no sound above the noise floor" in result.summary()


def test_short_input_is_padded_around_the_middle() -> None:
    y = tone(0.5)
    result = extract(y, AUDIO, mode="events")
    (clip,) = result.clips
    np.testing.assert_array_equal(clip[4000:12000], y)
    assert not clip[:4000].any() and not clip[12000:].any()
    assert result.starts == [-4000]


def test_results_do_not_depend_on_the_clip_length_rounding() -> None:
    audio = AudioSpec(sample_rate=8000, clip_seconds=0.5)
    result = extract(bursts([2.0, 5.0], sr=8000, seconds=8.0), audio, mode="events")
    assert [c.shape for c in result.clips] == [(4000,), (4000,)]
    assert [(s + 2000) / 8000 for s in result.starts] == pytest.approx([2.0, 5.0], abs=0.02)


@pytest.mark.parametrize("bad", [np.zeros((2, 100), np.float32), np.zeros(0, np.float32),
                                 np.array([0.0, np.nan], np.float32)])
def test_bad_input_is_a_clear_error(bad: np.ndarray) -> None:
    with pytest.raises(AudioError):
        extract(bad, AUDIO, mode="fixed")


def test_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="fixed or events"):
        extract(tone(2.0), AUDIO, mode="middle")


# -- real recordings -------------------------------------------------------------------------


def test_a_30_second_gtzan_track_gives_30_fixed_clips(dataset_files) -> None:
    track = next(f for f in dataset_files if f.dataset == "gtzan5")
    y = load(track.path, SR)
    assert len(y) / SR == pytest.approx(30.0, abs=0.1)
    for mode in ("fixed", "events"):  # music is continuous: events falls back to fixed windows
        result = extract(y, AUDIO, mode=mode)
        assert len(result.clips) == 30 and result.mode == "fixed", result.summary()


def test_every_gtzan_genre_is_continuous_sound(dataset_files) -> None:
    tracks = {f.label: f for f in dataset_files if f.dataset == "gtzan5"}
    for genre, track in sorted(tracks.items()):
        assert find_events(load(track.path, SR), SR).continuous, genre


def test_spoken_digits_over_real_background_noise_give_one_clip_each(dataset_files, datasets_dir) -> None:
    """Ten FSDD digits (8 kHz, resampled) said 1.8 s apart over the running-tap recording."""
    digits = [f for f in dataset_files if f.dataset == "fsdd" and f.group == "jackson"][::25][:10]
    y = load(datasets_dir / "background_noise" / "running_tap.wav", SR)[: 20 * SR] * 0.3
    centres = []
    for i, f in enumerate(digits):
        d = load(f.path, SR)
        start = int((1.0 + 1.8 * i) * SR)
        y[start : start + d.size] += d
        centres.append((start + d.size / 2) / SR)
    result = extract(y, AUDIO, mode="events")
    assert result.mode == "events" and len(result.clips) == 10, result.summary()
    assert clip_centres(result) == pytest.approx(centres, abs=0.25)
