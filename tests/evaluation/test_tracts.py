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


# -- DIPY's density_map / afq_profile against the implementation they replaced -------------------------------------


def _previous_density(streamlines: list[np.ndarray], grid: MaskGrid) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written version before DIPY: densify by linear interpolation, round to voxels, count streamlines."""
    step = 0.5 * float(np.linalg.norm(grid.affine[:3, :3], axis=0).min())
    inv = np.linalg.inv(grid.affine)
    parts = []
    for s in streamlines:
        seg = np.linalg.norm(np.diff(s, axis=0), axis=1)
        pieces = np.maximum(np.ceil(seg / step).astype(int), 1)
        t = np.concatenate([np.arange(p) / p for p in pieces])
        first = np.repeat(np.arange(len(seg)), pieces)
        dense = np.vstack([s[first] + t[:, None] * (s[first + 1] - s[first]), s[-1:]])
        ijk = np.rint(dense @ inv[:3, :3].T + inv[:3, 3]).astype(int)
        ijk = ijk[np.all((ijk >= 0) & (ijk < np.asarray(grid.shape)), axis=1)]
        parts.append(np.unique(np.ravel_multi_index(tuple(ijk.T), grid.shape)))
    return np.unique(np.concatenate(parts), return_counts=True)


def _previous_profile(streamlines: list[np.ndarray], start: np.ndarray, afd: np.ndarray, affine: np.ndarray,
                      n_points: int) -> np.ndarray:
    """Before DIPY: orient, resample by arc length (np.interp), sample trilinearly (scipy, 0 outside), average."""
    from scipy.ndimage import map_coordinates

    inv = np.linalg.inv(affine)
    rows = []
    for s in streamlines:
        s = s if np.linalg.norm(s[0] - start) <= np.linalg.norm(s[-1] - start) else s[::-1]
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(s, axis=0), axis=1))])
        target = np.linspace(0.0, arc[-1], n_points)
        points = np.stack([np.interp(target, arc, s[:, k]) for k in range(3)], axis=1)
        ijk = points @ inv[:3, :3].T + inv[:3, 3]
        rows.append(map_coordinates(afd, ijk.T, order=1, mode="constant", cval=0.0))
    return np.mean(rows, axis=0)


def _wiggly_tract(rng: np.random.Generator, n: int, centre: np.ndarray, spread: float) -> list[np.ndarray]:
    """``n`` smooth random streamlines (world mm) of 15-40 unevenly spaced points around ``centre``."""
    lines = []
    for _ in range(n):
        k = int(rng.integers(15, 40))
        t = np.sort(rng.uniform(0, 1, k))
        direction = rng.normal(size=3)
        path = centre + np.outer(t - 0.5, direction / np.linalg.norm(direction) * 30) + spread * np.sin(
            np.outer(t, rng.uniform(2, 6, 3)) + rng.uniform(0, 6, 3))
        lines.append(path if rng.random() < 0.5 else path[::-1])
    return lines


def test_dipy_density_and_profile_equal_the_previous_implementation_inside_the_volume() -> None:
    rng = np.random.default_rng(3)
    affine = np.array([[1.25, 0.1, 0, -30], [0, 1.25, 0.05, -35], [0.02, 0, 1.5, -20], [0, 0, 0, 1]])  # oblique, anisotropic
    afd = rng.uniform(0, 1, (48, 56, 40))
    grid = mask_grid(affine, afd.shape, 1.0)
    centre = affine[:3, :3] @ (np.asarray(afd.shape) / 2) + affine[:3, 3]
    lines = _wiggly_tract(rng, 40, centre, 4.0)  # well inside: every point at least a voxel from the edge
    start = centre + rng.normal(size=3) * 20
    m = measure_tract(lines, start, afd, affine, grid, n_points=100)
    voxels, counts = _previous_density(lines, grid)
    np.testing.assert_array_equal(m.mask, voxels)
    assert m.volume_mm3 == pytest.approx(len(voxels) * grid.voxel_volume)
    # the mask at a threshold uses the same per-voxel streamline counts
    thresholded = measure_tract(lines, start, afd, affine, grid, threshold=0.1)
    np.testing.assert_array_equal(thresholded.mask, voxels[counts > 0.1 * len(lines)])
    np.testing.assert_allclose(m.profile, _previous_profile(lines, start, afd, affine, 100), rtol=1e-10, atol=1e-12)


def test_at_the_field_of_view_edge_dipy_interpolates_towards_zero_where_scipy_cut_to_zero() -> None:
    """The one difference: a point beyond the outermost voxel centre (within half a voxel of the edge, where tracking
    still goes) sampled 0 before; DIPY's trilinear interpolation fades to 0 across that half voxel (0 outside)."""
    afd = np.ones((10, 6, 6))
    line = np.array([[5.0, 3.0, 3.0], [9.3, 3.0, 3.0]])  # ends 0.3 voxel beyond the last centre (x = 9)
    grid = MaskGrid((10, 6, 6), np.eye(4))
    m = measure_tract([line], line[0], afd, np.eye(4), grid, n_points=44)  # points every 0.1 mm
    before = _previous_profile([line], line[0], afd, np.eye(4), 44)
    np.testing.assert_allclose(m.profile[:41], 1.0)
    np.testing.assert_allclose(before[:41], 1.0)
    np.testing.assert_allclose(m.profile[41:], [0.9, 0.8, 0.7], atol=1e-9)  # 1 - (x - 9): the ramp to x = 10
    np.testing.assert_allclose(before[41:], 0.0)
