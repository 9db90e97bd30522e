"""Tract measures with known answers: Dice, masks on the common grid, volumes, along-tract profiles."""

from __future__ import annotations

import numpy as np
import pytest

from monai_fodgan.evaluation.tracts import MaskGrid, dice_indices, indices_on_grid, mask_grid, measure_tract, pairwise_dice


def test_dice_known_overlaps() -> None:
    a, b = np.array([1, 2, 3, 4]), np.array([3, 4, 5, 6, 7, 8])
    assert dice_indices(a, a) == 1.0
    assert dice_indices(a, b) == pytest.approx(2 * 2 / 10)
    assert dice_indices(a, np.array([9])) == 0.0
    np.testing.assert_allclose(pairwise_dice([a, a, b]), [1.0, 0.4, 0.4])
    np.testing.assert_allclose(pairwise_dice([a], [a, b]), [1.0, 0.4])


def test_mask_grid_covers_the_field_of_view_at_1mm() -> None:
    affine = np.diag([5.0, 6.25, 9.25, 1.0])
    affine[:3, 3] = (-77.5, -112.875, -59.375)
    grid = mask_grid(affine, (32, 32, 16), 1.0)
    assert grid.shape == (160, 200, 148) and grid.voxel_volume == pytest.approx(1.0)
    # the first 1 mm voxel centre sits half a millimetre inside the field of view's corner
    np.testing.assert_allclose(grid.affine[:3, 3], affine[:3, 3] - np.diag(affine)[:3] / 2 + 0.5)


def test_straight_tract_volume_and_linear_profile() -> None:
    grid = MaskGrid((40, 20, 20), np.eye(4))
    # 5 parallel streamlines along x from x = 5 to x = 34 (30 voxels each), one per y row, stored in both directions
    lines = [np.array([[5.0, y, 10.0], [34.0, y, 10.0]]) for y in range(5, 10)]
    lines[2] = lines[2][::-1]
    afd = np.tile(np.arange(40, dtype=float)[:, None, None], (1, 20, 20))  # AFD = x
    m = measure_tract(lines, np.array([0.0, 7.0, 10.0]), afd, np.eye(4), grid, n_points=30)
    assert m.count == 5 and m.volume_mm3 == pytest.approx(150.0)
    np.testing.assert_allclose(m.profile, np.linspace(5, 34, 30))  # oriented from the start point, reversed one included
    # a voxel needs 2 of 5 streamlines with threshold 0.3: none has more than one, so the mask is empty
    assert measure_tract(lines, np.zeros(3), afd, np.eye(4), grid, threshold=0.3).volume_mm3 == 0.0


def test_empty_tract() -> None:
    m = measure_tract([], np.zeros(3), np.zeros((4, 4, 4)), np.eye(4), MaskGrid((4, 4, 4), np.eye(4)), n_points=10)
    assert m.count == 0 and m.volume_mm3 == 0.0 and np.isnan(m.profile).all() and len(m.mask) == 0


def test_indices_on_grid_resamples_a_coarse_mask() -> None:
    coarse = np.zeros((4, 4, 4), dtype=bool)
    coarse[1, 2, 3] = True  # a 2 mm voxel centred at (2, 4, 6)
    idx = indices_on_grid(coarse, np.diag([2.0, 2.0, 2.0, 1.0]), MaskGrid((8, 8, 8), np.eye(4)))
    ijk = np.array(np.unravel_index(idx, (8, 8, 8))).T
    assert len(ijk) == 8 and ijk.min(0).tolist() == [1, 3, 5] and ijk.max(0).tolist() == [2, 4, 6]
