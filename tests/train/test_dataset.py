"""The data check, the stratified split, class weights, augmentation and the feature cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

import core.dataset as dataset
from core.dataset import Augment, augment, check_data, class_weights, load_clipset, stratified_split
from core.errors import TrainingError
from core.project import Project
from core.spec import BACKGROUND_NOISE, FeatureSpec


def test_check_data_lists_every_shortfall() -> None:
    with pytest.raises(TrainingError) as info:
        check_data({BACKGROUND_NOISE: 25, "yes": 12, "no": 0}, 20)
    assert "yes: 12 of 20" in info.value.message and "no: 0 of 20" in info.value.message
    assert BACKGROUND_NOISE not in info.value.message
    assert info.value.hint and "record or import" in info.value.hint


def test_check_data_needs_two_classes_and_warns_on_imbalance() -> None:
    with pytest.raises(TrainingError, match="at least two classes"):
        check_data({BACKGROUND_NOISE: 40}, 20)
    assert check_data({"a": 20, "b": 40}, 20) == []
    (warning,) = check_data({"a": 20, "b": 41}, 20)
    assert "imbalanced" in warning and "b has 41" in warning


def test_stratified_split_is_per_class_disjoint_and_seeded() -> None:
    targets = np.repeat([0, 1, 2], [20, 40, 3])
    train, test = stratified_split(targets, 0.15, seed=3)
    assert set(train).isdisjoint(test) and len(train) + len(test) == len(targets)
    assert np.bincount(targets[test]).tolist() == [3, 6, 1]
    again = stratified_split(targets, 0.15, seed=3)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(stratified_split(targets, 0.15, seed=4)[1], test)


def test_class_weights_balance_the_classes() -> None:
    targets = np.repeat([0, 1], [10, 30])
    weights = class_weights(targets, 2)
    assert weights[0] == pytest.approx(3 * weights[1])
    assert weights[targets].mean() == pytest.approx(1.0)


def test_augment_is_seeded_bounded_and_mixes_noise(rng: np.random.Generator) -> None:
    spec = FeatureSpec()
    power = rng.uniform(0.0, 1.0, (8, spec.n_frames, spec.n_mels)).astype(np.float32) ** 4
    noise = np.full((2, spec.n_frames, spec.n_mels), 5.0, np.float32)
    first = augment(power, noise, spec, np.random.default_rng(1), Augment())
    again = augment(power, noise, spec, np.random.default_rng(1), Augment())
    assert first.shape == power.shape and np.isfinite(first).all() and np.array_equal(first, again)
    plain = Augment(noise_probability=0, gain_db=(0, 0), max_shift_frames=0, time_masks=0, freq_masks=0,
                    freq_warp=(1, 1), time_stretch=(1, 1), eq_db=0)
    clean = augment(power, noise, spec, np.random.default_rng(1), plain)
    loud = replace(plain, noise_probability=1, snr_db=(0, 0))
    noisy = augment(power, noise, spec, np.random.default_rng(1), loud)
    assert (noisy >= clean - 1e-4).all() and noisy.mean() > clean.mean() + 1.0  # 0 dB SNR: about +3 dB
    assert power.max() <= 1.0  # the input is never changed in place


def test_frequency_warp_time_stretch_and_eq_move_energy_where_expected() -> None:
    spec = FeatureSpec()
    centre = (spec.n_frames - 1) // 2  # 48: frames stretch about the centre, bands about band 0
    power = np.full((1, spec.n_frames, spec.n_mels), 1e-4, np.float32)
    power[0, centre + 10, 10] = 1.0
    still = Augment(noise_probability=0, gain_db=(0, 0), max_shift_frames=0, time_masks=0, freq_masks=0,
                    freq_warp=(1, 1), time_stretch=(1, 1), eq_db=0)
    for factor in (0.8, 1.0, 1.2):
        stretched = replace(still, freq_warp=(factor, factor), time_stretch=(factor, factor))
        db = augment(power, None, spec, np.random.default_rng(0), stretched)[0]
        frame, band = np.unravel_index(db.argmax(), db.shape)
        assert (frame, band) == (centre + round(10 * factor), round(10 * factor))
    flat = np.ones((4, spec.n_frames, spec.n_mels), np.float32)
    coloured = augment(flat, None, spec, np.random.default_rng(0), replace(still, eq_db=6.0))
    reference = augment(flat, None, spec, np.random.default_rng(0), still)
    gain = coloured - reference  # dB per band, the same for every frame
    assert np.allclose(gain, gain[:, :1, :], atol=1e-4) and np.abs(gain).max() <= 6.0 + 1e-4
    assert np.abs(np.diff(gain[:, 0, :], axis=1)).max() < 12.0 / (spec.n_mels / 2) + 1e-4  # smooth
    assert gain.std() > 1.0  # and not a no-op


def test_features_are_cached_per_clip(make_tone_project: Callable[..., Project],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_tone_project()
    spec = FeatureSpec()
    first = load_clipset(project, spec, min_samples=20)
    assert first.labels == [BACKGROUND_NOISE, "low", "high"] and first.power.shape == (72, 97, 40)
    assert len(list(project.cache_dir.rglob("*.npy"))) == 72

    def no_recompute(*_args: object) -> None:
        raise AssertionError("features were recomputed")

    monkeypatch.setattr(dataset, "mel_power_batch", no_recompute)
    second = load_clipset(project, spec, min_samples=20)
    assert np.array_equal(first.power, second.power)
    monkeypatch.undo()
    other = load_clipset(project, FeatureSpec(n_mels=32), min_samples=20)  # another spec, another key
    assert other.power.shape == (72, 97, 32)


def test_load_clipset_refuses_thin_projects(make_tone_project: Callable[..., Project]) -> None:
    project = make_tone_project(count=12)
    with pytest.raises(TrainingError, match="Background Noise: 12 of 20; low: 12 of 20; high: 12 of 20"):
        load_clipset(project, FeatureSpec(), min_samples=20)
