"""Diffusion gradient tables: FSL bval/bvec files, shells, and the FSL -> world-frame conversion.

FSL's bvecs are unit vectors along the image's VOXEL axes as stored in the NIfTI file, with the x component
flipped when the voxel-to-world matrix has a positive determinant (FSL's radiological convention). MRtrix3
gradients, and everything this package fits, use the WORLD (scanner RAS) frame:
``g_world = Q @ F @ g_fsl`` with Q the voxel axes' world directions (affine columns / spacing) and
``F = diag(-1, 1, 1)`` when ``det(affine[:3, :3]) > 0``, else the identity (MRtrix3 does the same).
Fitting with world-frame directions gives SH coefficients in the world frame, as MRtrix3 stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GradientTable", "read_fsl_gradients", "fsl_to_world", "world_to_fsl", "GradientError"]


class GradientError(ValueError):
    """A gradient table is missing, unreadable or inconsistent with its image."""


@dataclass(frozen=True)
class GradientTable:
    """b-values (s/mm^2, (N,)) and unit directions in the WORLD frame ((N, 3); zero rows for b = 0)."""

    bvals: np.ndarray
    bvecs: np.ndarray
    b0_threshold: float = 50.0

    def shells(self, tolerance: float = 100.0) -> dict[float, np.ndarray]:
        """Volume indices per shell (b > ``b0_threshold``), keyed by the shell's mean b-value.

        b-values within ``tolerance`` of each other form one shell (scanners jitter around nominal values).
        """
        idx = np.flatnonzero(self.bvals > self.b0_threshold)
        groups: list[list[int]] = []
        for i in idx[np.argsort(self.bvals[idx])]:
            if groups and self.bvals[i] - self.bvals[groups[-1][0]] <= tolerance:
                groups[-1].append(int(i))
            else:
                groups.append([int(i)])
        return {float(np.mean(self.bvals[g])): np.asarray(g) for g in groups}

    @property
    def b0_mask(self) -> np.ndarray:
        return self.bvals <= self.b0_threshold


def _voxel_axes(affine: np.ndarray) -> np.ndarray:
    lin = np.asarray(affine, dtype=np.float64)[:3, :3]
    return lin / np.linalg.norm(lin, axis=0)


def fsl_to_world(bvecs: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """FSL bvecs (N, 3) in the image's voxel frame -> world-frame unit vectors (N, 3)."""
    flip = np.diag([-1.0, 1.0, 1.0]) if np.linalg.det(np.asarray(affine)[:3, :3]) > 0 else np.eye(3)
    return np.asarray(bvecs, dtype=np.float64) @ (_voxel_axes(affine) @ flip).T


def world_to_fsl(bvecs: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Inverse of :func:`fsl_to_world`."""
    flip = np.diag([-1.0, 1.0, 1.0]) if np.linalg.det(np.asarray(affine)[:3, :3]) > 0 else np.eye(3)
    return np.asarray(bvecs, dtype=np.float64) @ (_voxel_axes(affine) @ flip)


def read_fsl_gradients(bval: str | Path, bvec: str | Path, affine: np.ndarray, n_volumes: int) -> GradientTable:
    """Read FSL ``.bval``/``.bvec`` files and return a world-frame :class:`GradientTable`.

    Raises:
        GradientError: a file is missing or unreadable, the counts disagree with each other or with the
            image's ``n_volumes``, a direction of a b > 0 volume is not (close to) unit length, or there is
            no b = 0 volume. The message names the files.
    """
    for path in (bval, bvec):
        if not Path(path).is_file():
            raise GradientError(f"{path}: gradient file not found.")
    try:
        bvals = np.loadtxt(bval, dtype=np.float64, ndmin=1).ravel()
        vecs = np.loadtxt(bvec, dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise GradientError(f"{bval} / {bvec}: unreadable gradient table ({e}).") from e
    if vecs.shape[0] != 3 and vecs.shape[1] == 3:
        vecs = vecs.T  # one row per volume: tolerated
    if vecs.shape[0] != 3:
        raise GradientError(f"{bvec}: expected 3 rows (x, y, z), got shape {vecs.shape}.")
    if not (len(bvals) == vecs.shape[1] == n_volumes):
        raise GradientError(
            f"{bval} has {len(bvals)} values and {bvec} {vecs.shape[1]} directions, but the image has {n_volumes} volumes."
        )
    vecs = vecs.T
    table = GradientTable(bvals=bvals, bvecs=np.zeros_like(vecs))
    dw = ~table.b0_mask
    norms = np.linalg.norm(vecs[dw], axis=1)
    if dw.any() and (np.abs(norms - 1) > 0.1).any():
        raise GradientError(f"{bvec}: {int((np.abs(norms - 1) > 0.1).sum())} diffusion directions are not unit vectors.")
    if not table.b0_mask.any():
        raise GradientError(f"{bval}: no b = 0 volume (b <= {table.b0_threshold}); CSD needs one.")
    world = np.zeros_like(vecs)
    world[dw] = fsl_to_world(vecs[dw] / norms[:, None], affine)
    return GradientTable(bvals=bvals, bvecs=world)
