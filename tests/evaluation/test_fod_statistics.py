"""Voxel statistics: histograms, negative l = 0 fraction, per-parcel AFD, Eq. 5, pairwise squared differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_fodgan.evaluation.cache import ResultCache
from monai_fodgan.evaluation.distances import ImageSource, pairwise_squared_distances
from monai_fodgan.evaluation.fod_statistics import (
    coefficient_histograms, coefficient_range, histogram_edges, negative_l0_fraction, parcel_sums, pooled_parcel_stats,
    relative_difference,
)
from monai_fodgan.evaluation.subjects import SQRT_4PI


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(5, 4, 3, 6)).astype(np.float32) for _ in range(n)]


def test_histograms_count_every_voxel_in_common_bins() -> None:
    imgs = _images(3)
    edges = histogram_edges(np.stack([coefficient_range(x) for x in imgs]), bins=7)
    assert edges.shape == (6, 8)
    total = sum(coefficient_histograms(x, edges) for x in imgs)
    np.testing.assert_array_equal(total.sum(1), np.full(6, 3 * 5 * 4 * 3))
    for c in range(6):  # the same as NumPy's histogram of the pooled values
        np.testing.assert_array_equal(total[c], np.histogram(np.concatenate([x[..., c].ravel() for x in imgs]), edges[c])[0])


def test_negative_l0_fraction_ignores_round_off() -> None:
    fod = np.zeros((10, 10, 1, 6))
    fod[..., 0] = 0.4
    fod[:3, 0, 0, 0] = -1e-7  # solver round-off: not negative
    fod[5:9, 5, 0, 0] = -0.01  # 4 truly negative voxels of 100
    assert negative_l0_fraction(fod) == pytest.approx(0.04)


def test_parcel_statistics_and_relative_difference() -> None:
    fod = np.zeros((4, 1, 1, 1))
    fod[:, 0, 0, 0] = np.array([1.0, 2.0, 3.0, 5.0]) / SQRT_4PI  # AFD 1, 2, 3, 5
    labels = np.array([1, 1, 2, 0]).reshape(4, 1, 1)
    sums = parcel_sums(fod, labels, n_labels=3)
    np.testing.assert_allclose(sums, [[2, 3, 5], [1, 3, 9], [0, 0, 0]])
    mean, sd = pooled_parcel_stats(np.stack([sums, sums]))  # pooled over two identical subjects: 1, 2, 1, 2
    np.testing.assert_allclose(mean[:2], [1.5, 3.0])
    assert sd[0] == pytest.approx(np.std([1, 2, 1, 2], ddof=1)) and np.isnan(mean[2])
    np.testing.assert_allclose(relative_difference([1.0, 3.0, -1.0], [3.0, 3.0, 1.0]), [0.5, 0.0, 1.0])


def test_pairwise_squared_distances_blockwise_and_cached(tmp_path: Path) -> None:
    imgs = _images(5, seed=1)
    sources = [ImageSource(f"d{k}", lambda k=k: imgs[k].ravel()) for k in range(5)]
    expected = np.array([[((imgs[i] - imgs[j]).astype(np.float64) ** 2).sum() for j in range(5)] for i in range(3)])
    tiny = 2.5 * imgs[0].size * 4 * 2 / 2**30  # blocks of two images: forces several blocks
    cache = ResultCache(tmp_path)
    computed: list[int] = []
    d2 = pairwise_squared_distances(sources, [0, 1, 2], list(range(5)), memory_gb=tiny, cache=cache, progress=computed.append)
    np.testing.assert_allclose(d2, expected, rtol=1e-5)
    assert sum(computed) > 0
    again: list[int] = []
    d2_again = pairwise_squared_distances(sources, [0, 1, 2], list(range(5)), memory_gb=tiny, cache=cache, progress=again.append)
    np.testing.assert_array_equal(d2_again, d2)
    assert again == []  # everything came from the cache
    with pytest.raises(ValueError, match="one grid"):
        bad = sources + [ImageSource("odd", lambda: np.zeros(7, np.float32))]
        pairwise_squared_distances(bad, [5], [0], memory_gb=tiny)
