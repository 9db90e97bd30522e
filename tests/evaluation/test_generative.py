"""Generative metrics with known answers: MS-SSIM settings and values, MMD, nearest neighbours, Frechet distance."""

from __future__ import annotations

import numpy as np
import pytest

from monai_fodgan.evaluation.generative import (frechet_distance, memorisation_flags, mmd_test, ms_ssim_settings, nearest_neighbours,
                                               pairwise_ms_ssim)


@pytest.mark.parametrize("shape, kernel, scales", [((128, 128, 64), 5, 4), ((32, 32, 16), 3, 3), ((16, 16, 8), 3, 2)])
def test_ms_ssim_settings_fit_the_grid(shape: tuple[int, ...], kernel: int, scales: int) -> None:
    s = ms_ssim_settings(shape)
    assert s["kernel_size"] == kernel and len(s["weights"]) == scales
    assert sum(s["weights"]) == pytest.approx(1.0)
    assert min(shape) // 2 ** (scales - 1) >= kernel  # the coarsest scale holds a whole window
    rng = np.random.default_rng(0)
    a = rng.random(shape).astype(np.float32)
    values = pairwise_ms_ssim([a, a, rng.random(shape).astype(np.float32)], data_range=1.0)
    assert values[0] == pytest.approx(1.0, abs=1e-5) and values[1] < 0.9  # identical pair 1, independent noise low


def test_ms_ssim_rejects_tiny_grids() -> None:
    with pytest.raises(ValueError, match="too small"):
        ms_ssim_settings((2, 8, 8))


def _pooled_sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = np.concatenate([a, b])
    return ((x[:, None] - x[None]) ** 2).sum(-1)


def test_mmd_same_distribution_and_shifted() -> None:
    rng = np.random.default_rng(0)
    same = mmd_test(_pooled_sq_distances(rng.normal(size=(30, 5)), rng.normal(size=(30, 5))), 30, permutations=200)
    shifted = mmd_test(_pooled_sq_distances(rng.normal(size=(30, 5)), rng.normal(2.0, 1.0, size=(30, 5))), 30, permutations=200)
    assert same["p"] > 0.05 and abs(same["mmd2"]) < 0.05
    assert shifted["p"] <= 0.01 and shifted["mmd2"] > 0.2


def test_memorisation_flags_only_samples_closer_than_every_held_out_subject() -> None:
    # held-out nearest-training distances 2, 3, 4: threshold 2 (strictly closer is flagged), medians 2.5 / 3
    copies, threshold, ratio = memorisation_flags([0.0, 2.0, 2.5, 1.9], [4.0, 2.0, 3.0])
    np.testing.assert_array_equal(copies, [True, False, False, True])
    assert threshold == 2.0 and ratio == pytest.approx(1.95 / 3.0)
    copies, threshold, ratio = memorisation_flags([0.0, 1.0], [])
    assert not copies.any() and np.isnan(threshold) and np.isnan(ratio)


def test_nearest_neighbours_and_frechet() -> None:
    idx, dist = nearest_neighbours(np.array([[4.0, 1.0, 9.0], [0.25, 4.0, 1.0]]))
    np.testing.assert_array_equal(idx, [1, 0])
    np.testing.assert_allclose(dist, [1.0, 0.5])
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # same covariance, means apart by (1, 2, 2): the distance is the squared mean difference, 9
    assert frechet_distance(a, a + np.array([1.0, 2.0, 2.0])) == pytest.approx(9.0, abs=1e-6)
