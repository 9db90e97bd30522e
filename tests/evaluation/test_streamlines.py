"""Streamline geometry: densification, equidistant resampling, voxel masks, region visits, .tck files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_fodgan.evaluation.streamlines import (
    densify, load_tck, mask_flat_indices, orient_towards, resample_equidistant, sample_volume, save_tck,
    streamline_lengths, visits_region,
)
from monai_fodgan.mrtrix import run_mrtrix


def test_resample_equidistant_is_uniform_along_a_bent_line() -> None:
    # an L: 10 mm along x then 30 mm along y, unevenly sampled
    s = np.array([[0, 0, 0], [1, 0, 0], [10, 0, 0], [10, 29, 0], [10, 30, 0]], dtype=float)
    out = resample_equidistant(s, 5)
    np.testing.assert_allclose(out, [[0, 0, 0], [10, 0, 0], [10, 10, 0], [10, 20, 0], [10, 30, 0]], atol=1e-12)
    assert streamline_lengths([s])[0] == pytest.approx(40.0)


def test_densify_keeps_points_and_bounds_the_step() -> None:
    s = np.array([[0, 0, 0], [3.0, 4.0, 0]])
    d = densify(s, 0.5)
    assert np.allclose(d[0], s[0]) and np.allclose(d[-1], s[-1])
    assert np.linalg.norm(np.diff(d, axis=0), axis=1).max() <= 0.5 + 1e-12
    assert len(d) == 11  # 5 mm in steps of 0.5


def test_mask_of_a_straight_line_is_the_voxels_it_crosses() -> None:
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    line = np.array([[0.0, 4.0, 6.0], [18.0, 4.0, 6.0]])  # voxel centres x = 0..18 mm -> i = 0..9, j = 2, k = 3
    idx = mask_flat_indices([line], (12, 8, 8), affine)
    expected = np.ravel_multi_index((np.arange(10), np.full(10, 2), np.full(10, 3)), (12, 8, 8))
    np.testing.assert_array_equal(idx, expected)


def test_region_visits() -> None:
    affine = np.eye(4)
    region = np.zeros((10, 10, 10), dtype=bool)
    region[5, 5, 5] = True
    through = np.array([[0.0, 5.0, 5.0], [9.0, 5.0, 5.0]])
    beside = np.array([[0.0, 2.0, 5.0], [9.0, 2.0, 5.0]])
    np.testing.assert_array_equal(visits_region([through, beside], region, affine), [True, False])


def test_orientation_and_sampling() -> None:
    s = np.array([[9.0, 0, 0], [0.0, 0, 0]])
    (flipped,) = orient_towards([s], np.array([-1.0, 0, 0]))
    assert flipped[0, 0] == 0.0
    volume = np.tile(np.arange(10, dtype=float)[:, None, None], (1, 3, 3))  # value = x index
    np.testing.assert_allclose(sample_volume(volume, np.eye(4), np.array([[2.5, 1, 1], [7.25, 1, 1]])), [2.5, 7.25])


def test_tck_round_trip_is_read_by_mrtrix(tmp_path: Path, mrtrix: None) -> None:
    rng = np.random.default_rng(0)
    streamlines = [np.cumsum(rng.normal(size=(n, 3)), axis=0).astype(np.float32) for n in (5, 12, 3)]
    path = save_tck(streamlines, tmp_path / "t.tck")
    info = run_mrtrix("tckinfo", path, "-count", quiet=False).stdout
    assert "actual count in file: 3" in info
    back = load_tck(path)
    assert len(back) == 3
    for a, b in zip(streamlines, back):
        np.testing.assert_allclose(a, b, atol=1e-5)
