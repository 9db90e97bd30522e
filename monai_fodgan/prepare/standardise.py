"""Crop to the brain and resample FODs onto an axis-aligned training grid (world RAS axes).

The output grid's voxel axes are the world axes (affine diagonal, positive spacing = RAS), so every subject
shares one orientation whatever its acquisition; since FOD coefficients are in the world frame, changing
the grid needs no SH reorientation. The grid covers a world-space box (a subject's or the cohort's brain
bounding box) with ``shape`` voxels; spacing may differ per axis (as the paper's 1.25 x 1.61 x 2.5 mm).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai_fodgan.transforms.functional import resample_world

__all__ = ["world_bounding_box", "union_box", "isotropic_box", "box_grid_affine", "resample_fod_to_box"]


def world_bounding_box(mask: np.ndarray, affine: np.ndarray, margin_mm: float = 2.0) -> np.ndarray:
    """World-space box (2, 3) = (min corner, max corner) in mm around a mask's voxels (their full extent,
    i.e. voxel edges, since an oblique voxel's corners stick out), plus ``margin_mm`` on every side."""
    idx = np.argwhere(mask)
    if idx.size == 0:
        raise ValueError("empty brain mask: no bounding box.")
    lo, hi = idx.min(0) - 0.5, idx.max(0) + 0.5
    corners = np.array([[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    world = corners @ np.asarray(affine, dtype=np.float64)[:3].T
    return np.stack([world.min(0) - margin_mm, world.max(0) + margin_mm])


def union_box(boxes: Sequence[np.ndarray]) -> np.ndarray:
    """Smallest box holding all boxes (the cohort's brain bounding box)."""
    stack = np.stack(boxes)
    return np.stack([stack[:, 0].min(0), stack[:, 1].max(0)])


def isotropic_box(box: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``box`` (2, 3) widened about its centre so that ``shape`` voxels tile it with ONE spacing on every axis (the
    largest that ``box`` needs), i.e. isotropic voxels holding the whole box. The demo's 56 x 64 x 56 grid over the
    phantom cohort's brain box gives about 3 mm voxels; without it, each axis would get its own spacing."""
    box = np.asarray(box, dtype=np.float64)
    spacing = float(np.max((box[1] - box[0]) / np.asarray(shape, dtype=np.float64)))
    centre, half = box.mean(0), spacing * np.asarray(shape, dtype=np.float64) / 2
    return np.stack([centre - half, centre + half])


def box_grid_affine(box: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Axis-aligned RAS affine whose ``shape`` voxels exactly tile ``box`` (voxel edges on the box faces)."""
    spacing = (box[1] - box[0]) / np.asarray(shape, dtype=np.float64)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = box[0] + spacing / 2
    return affine


def resample_fod_to_box(fod: torch.Tensor, affine: torch.Tensor | np.ndarray, box: np.ndarray,
                        shape: Sequence[int]) -> tuple[torch.Tensor, np.ndarray]:
    """Trilinearly resample a channel-first FOD (C, X, Y, Z) onto the axis-aligned grid of ``box``; zero
    outside the input. Returns (FOD (C, X', Y', Z'), affine (4, 4))."""
    out_affine = box_grid_affine(box, shape)
    aff = torch.as_tensor(np.asarray(affine, dtype=np.float64))
    return resample_world(torch.as_tensor(fod), aff, torch.from_numpy(out_affine), tuple(shape)), out_affine
