"""Streamlines and what is measured along them, independent of the tractography backend.

A streamline is an (N, 3) float array of points in WORLD coordinates (scanner RAS, mm), as MRtrix3's ``.tck``
files and DIPY's tractograms (with an affine) hold them; a tractogram is a list of them. Volumes are sampled
through their voxel-to-world ``affine``; voxel ``i`` is the cube centred on ``affine @ i``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_fodgan.io import atomic_output

__all__ = [
    "load_tck", "save_tck", "streamline_lengths", "densify", "resample_equidistant", "world_to_voxel",
    "voxel_indices", "visits_region", "mask_flat_indices", "sample_volume", "orient_towards",
]


def load_tck(path: str | Path) -> list[np.ndarray]:
    """Streamlines of an MRtrix3 ``.tck`` file (world mm), as float32 arrays."""
    import nibabel.streamlines as nibs

    return [np.asarray(s, dtype=np.float32) for s in nibs.load(str(path)).streamlines]


def save_tck(streamlines: Sequence[np.ndarray], path: str | Path) -> Path:
    """Write streamlines (world mm) as an MRtrix3 ``.tck`` file, atomically."""
    import nibabel.streamlines as nibs

    tractogram = nibs.Tractogram(list(streamlines), affine_to_rasmm=np.eye(4))
    with atomic_output(path) as tmp:
        nibs.TckFile(tractogram).save(str(tmp))
    return Path(path)


def streamline_lengths(streamlines: Sequence[np.ndarray]) -> np.ndarray:
    """Arc length (mm) of every streamline."""
    return np.array([float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) if len(s) > 1 else 0.0
                     for s in streamlines])


def densify(streamline: np.ndarray, step_mm: float) -> np.ndarray:
    """The streamline with points inserted so that no two consecutive points are more than ``step_mm`` apart
    (DIPY's ``subsegment``: each segment split into the fewest equal parts; segments of length 0 dropped)."""
    from dipy.tracking.utils import subsegment

    s = np.asarray(streamline, dtype=np.float64)
    return s if len(s) < 2 else next(subsegment([s], step_mm))


def resample_equidistant(streamline: np.ndarray, n_points: int) -> np.ndarray:
    """``n_points`` points at equal arc-length spacing from the first to the last point (n_points, 3), float64
    (DIPY's ``set_number_of_points``; a streamline of one point or of length 0 gives that point repeated, where
    DIPY would fail or return garbage)."""
    from dipy.tracking.streamline import set_number_of_points

    s = np.asarray(streamline, dtype=np.float64)
    if len(s) == 1 or not np.any(s[1:] != s[:-1]):
        return np.repeat(s[:1], n_points, axis=0)
    return set_number_of_points(s, nb_points=n_points)


def world_to_voxel(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Continuous voxel coordinates (..., 3) of world points (..., 3)."""
    inv = np.linalg.inv(np.asarray(affine, dtype=np.float64))
    return np.asarray(points, dtype=np.float64) @ inv[:3, :3].T + inv[:3, 3]


def voxel_indices(points: np.ndarray, shape: Sequence[int], affine: np.ndarray) -> np.ndarray:
    """Flat (C-order) indices of the voxels holding ``points``; points outside the grid are dropped."""
    ijk = np.rint(world_to_voxel(points, affine)).astype(np.int64)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(shape)), axis=-1)
    return np.ravel_multi_index(tuple(ijk[inside].T), tuple(shape))


def _step_for(affine: np.ndarray) -> float:
    """Densification step: half the smallest voxel size, so that no voxel on a streamline's path is skipped."""
    return 0.5 * float(np.linalg.norm(np.asarray(affine)[:3, :3], axis=0).min())


def visits_region(streamlines: Sequence[np.ndarray], region: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Whether each streamline passes through a voxel of the binary ``region`` (X, Y, Z) on ``affine``'s grid."""
    lookup = np.asarray(region).astype(bool).ravel()
    step = _step_for(affine)
    out = np.zeros(len(streamlines), dtype=bool)
    if not lookup.any():
        return out
    for k, s in enumerate(streamlines):
        out[k] = lookup[voxel_indices(densify(s, step), region.shape, affine)].any()
    return out


def mask_flat_indices(streamlines: Sequence[np.ndarray], shape: Sequence[int], affine: np.ndarray) -> np.ndarray:
    """Sorted flat indices of every voxel of the grid (``shape``, ``affine``) that a streamline passes through:
    the streamlines' binary mask, as MRtrix3's ``tckmap -template`` followed by a threshold at 1 gives it."""
    step = _step_for(affine)
    parts = [voxel_indices(densify(s, step), shape, affine) for s in streamlines]
    return np.unique(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def sample_volume(volume: np.ndarray, affine: np.ndarray, points: np.ndarray, order: int = 1) -> np.ndarray:
    """Values of a 3D ``volume`` at world ``points`` (..., 3): trilinear (order 1) or nearest (order 0); 0 outside."""
    from scipy.ndimage import map_coordinates

    ijk = world_to_voxel(points, affine)
    flat = ijk.reshape(-1, 3).T
    values = map_coordinates(np.asarray(volume, dtype=np.float64), flat, order=order, mode="constant", cval=0.0)
    return values.reshape(ijk.shape[:-1])


def orient_towards(streamlines: Sequence[np.ndarray], start: np.ndarray) -> list[np.ndarray]:
    """Each streamline reversed where needed so that its FIRST point is the end nearer to ``start`` (world mm):
    along-tract profiles of different subjects then run in the same direction."""
    start = np.asarray(start, dtype=np.float64)
    return [s if np.linalg.norm(s[0] - start) <= np.linalg.norm(s[-1] - start) else s[::-1] for s in streamlines]
