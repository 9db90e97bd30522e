"""Fibre tracts: binary masks at 1 mm, volumes, Dice between subjects, along-tract fibre density, ground truth.

As in the paper: each tract's streamlines are mapped to a binary mask with isotropic 1 mm voxels (a voxel
belongs to the tract when a streamline passes through it; ``threshold`` > 0 instead requires that fraction of
the tract's streamlines), compared by the Sorensen-Dice score S(A, B) = 2 |A * B| / (|A| + |B|) for all pairs
of subjects, and their volumes compared; each streamline is resampled to 100 equidistant points, oriented to
start at the tract's seed region, and the apparent fibre density (AFD = c00 sqrt(4 pi), trilinear) is averaged
over streamlines at each point. DIPY does the geometry: ``subsegment`` and ``density_map`` (streamlines per mask
voxel), ``set_number_of_points`` and ``afq_profile`` (the along-tract mean, Yeatman et al. 2012, unweighted). Masks of all subjects live on ONE 1 mm grid over the sets' common field of
view, stored as sorted flat voxel indices (a few kB each instead of megabytes).

On the phantom population the tracts are also compared with the ground-truth bundle masks
(``derivatives/phantom/<subject>/<subject>_bundles.nii.gz``): the corpus callosum is the union of the genu,
body and splenium bundles; every other tract has its namesake.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.evaluation.streamlines import (
    densify, orient_towards, resample_equidistant, sample_volume, world_to_voxel,
)

__all__ = [
    "MaskGrid", "mask_grid", "TractMeasures", "measure_tract", "dice_indices", "pairwise_dice", "truth_masks",
    "indices_on_grid",
]


@dataclass(frozen=True)
class MaskGrid:
    """The common 1 mm grid of tract masks: ``shape`` and voxel-to-world ``affine``."""

    shape: tuple[int, int, int]
    affine: np.ndarray

    @property
    def voxel_volume(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3])))


@dataclass
class TractMeasures:
    """One tract of one subject: streamline ``count``, ``mask`` (sorted flat indices on the :class:`MaskGrid`),
    ``volume_mm3``, along-tract AFD ``profile`` (n_points,; NaN when no streamline has a length) and a ``preview``
    (k, 20, 3) of a few streamlines (world mm) for figures."""

    count: int
    mask: np.ndarray
    volume_mm3: float
    profile: np.ndarray
    preview: np.ndarray


def _density(streamlines: Sequence[np.ndarray], grid: MaskGrid) -> tuple[np.ndarray, np.ndarray]:
    """(sorted flat voxel indices, number of streamlines through each) on ``grid``: DIPY's ``density_map`` of the
    streamlines cut into steps of half a voxel (so that no voxel on a path is skipped); points off the grid are left
    out (``density_map`` would refuse them)."""
    from dipy.tracking.utils import density_map

    step = 0.5 * float(np.linalg.norm(grid.affine[:3, :3], axis=0).min())
    kept = []
    for s in streamlines:
        points = densify(s, step)
        ijk = world_to_voxel(points, grid.affine)  # density_map's voxel is floor(ijk + 0.5): on the grid from -0.5
        points = points[np.all((ijk >= -0.5) & (ijk < np.asarray(grid.shape) - 0.5), axis=1)]
        if len(points):
            kept.append(points)
    counts = density_map(kept, grid.affine, grid.shape).ravel()
    voxels = np.flatnonzero(counts)
    return voxels.astype(np.int64), counts[voxels].astype(np.int64)


def measure_tract(streamlines: Sequence[np.ndarray], start: np.ndarray, afd: np.ndarray, afd_affine: np.ndarray,
                  grid: MaskGrid, n_points: int = 100, threshold: float = 0.0, preview: int = 30) -> TractMeasures:
    """Mask, volume and along-tract AFD of one tract.

    Args:
        streamlines: the tract's streamlines (world mm).
        start: world point the profiles start from (the seed region's centre).
        afd: the subject's AFD map (X, Y, Z) on ``afd_affine``.
        grid: the common mask grid.
        n_points: points along the tract (paper: 100).
        threshold: fraction of streamlines a voxel needs to be in the mask (0: any streamline, as the paper).
        preview: streamlines kept for figures.
    """
    from dipy.stats.analysis import afq_profile

    voxels, counts = _density(streamlines, grid)
    mask = voxels[counts > threshold * len(streamlines)] if threshold > 0 else voxels
    if streamlines:
        oriented = orient_towards([np.asarray(s, dtype=np.float64) for s in streamlines], start)
        # a streamline of one point or of length 0 has no "along" (and DIPY's resampling cannot take it)
        extended = [s for s in oriented if len(s) > 1 and np.any(s[1:] != s[:-1])]
        profile = afq_profile(np.asarray(afd, dtype=np.float64), extended, np.asarray(afd_affine, dtype=np.float64),
                              n_points=n_points) if extended else np.full(n_points, np.nan)
        pick = np.linspace(0, len(oriented) - 1, min(preview, len(oriented))).astype(int)
        sketch = np.stack([resample_equidistant(oriented[k], 20) for k in pick]).astype(np.float32)
    else:
        profile = np.full(n_points, np.nan)
        sketch = np.zeros((0, 20, 3), dtype=np.float32)
    return TractMeasures(len(streamlines), mask.astype(np.int64), float(len(mask) * grid.voxel_volume), profile, sketch)


def dice_indices(a: np.ndarray, b: np.ndarray) -> float:
    """Dice score of two masks given as sorted flat indices on one grid (0 when both are empty)."""
    total = len(a) + len(b)
    return 2.0 * len(np.intersect1d(a, b, assume_unique=True)) / total if total else 0.0


def pairwise_dice(masks_a: Sequence[np.ndarray], masks_b: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Dice of every pair: within one set (i < j) when ``masks_b`` is None, else every (a, b) pair."""
    if masks_b is None:
        return np.array([dice_indices(masks_a[i], masks_a[j]) for i in range(len(masks_a)) for j in range(i + 1, len(masks_a))])
    return np.array([dice_indices(a, b) for a in masks_a for b in masks_b])


def mask_grid(affine: np.ndarray, shape: Sequence[int], voxel_mm: float = 1.0) -> MaskGrid:
    """The isotropic ``voxel_mm`` grid over the field of view of an image grid (the tract masks' common grid)."""
    from monai_fodgan.evaluation.tractography.common import isotropic_grid

    grid_affine, grid_shape = isotropic_grid(np.asarray(affine, dtype=np.float64), tuple(shape), voxel_mm)
    return MaskGrid(tuple(int(s) for s in grid_shape), grid_affine)


def indices_on_grid(volume: np.ndarray, affine: np.ndarray, grid: MaskGrid) -> np.ndarray:
    """Sorted flat indices of the voxels of ``grid`` whose centres fall in the binary ``volume`` (nearest).

    Only the part of ``grid`` around the volume's nonzero voxels is visited."""
    on = np.argwhere(np.asarray(volume) > 0)
    if len(on) == 0:
        return np.zeros(0, dtype=np.int64)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)
    lo_idx, hi_idx = on.min(0) - 0.5, on.max(0) + 0.5
    box = lo_idx + corners * (hi_idx - lo_idx)
    box_world = box @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
    box_grid = (box_world - grid.affine[:3, 3]) @ np.linalg.inv(grid.affine[:3, :3]).T
    lo = np.clip(np.floor(box_grid.min(0)).astype(int), 0, np.asarray(grid.shape) - 1)
    hi = np.clip(np.ceil(box_grid.max(0)).astype(int), 0, np.asarray(grid.shape) - 1)
    idx = np.stack(np.meshgrid(*[np.arange(a, b + 1) for a, b in zip(lo, hi)], indexing="ij"), -1).reshape(-1, 3)
    world = idx @ grid.affine[:3, :3].T + grid.affine[:3, 3]
    values = sample_volume(np.asarray(volume, dtype=np.float32), affine, world, order=0)
    return np.sort(np.ravel_multi_index(tuple(idx[values > 0.5].T), grid.shape)).astype(np.int64)


_TRUTH_PARTS = {"CC": ("CC_genu", "CC_body", "CC_splenium")}


def truth_masks(root: str | Path, subject: str, tracts: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """Ground-truth bundle masks of a phantom subject: ({tract: (X, Y, Z) bool}, affine), or None when the phantom
    folder ``root`` has no truth for ``subject``."""
    path = Path(root) / "derivatives" / "phantom" / subject / f"{subject}_bundles.nii.gz"
    names_file = Path(root) / "bundles.json"
    if not path.is_file() or not names_file.is_file():
        return None
    names = json.loads(names_file.read_text())["volumes"]
    img = nib.load(str(path))
    data = np.asarray(img.dataobj) > 0
    out = {}
    for tract in tracts:
        parts = [p for p in _TRUTH_PARTS.get(tract, (tract,)) if p in names]
        if parts:
            out[tract] = data[..., [names.index(p) for p in parts]].any(axis=-1)
    return out, np.asarray(img.affine, dtype=np.float64)
