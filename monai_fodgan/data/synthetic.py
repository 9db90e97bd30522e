"""Analytic FOD images with known fibre directions, for tests, tutorials and demos.

A fibre along unit vector v contributes the axially symmetric lobe ``sum_l k_l * Y_lm(v)`` (MRtrix3 basis,
world frame), with ``k_l = exp(-l (l + 1) / (2 * sharpness))``: a smoothed delta function peaking at +-v.
Everything here is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.data import MetaTensor

from monai_fodgan.sh import sh_basis, sh_degrees

__all__ = ["fibre_lobe", "crossing_fibre_image", "oblique_affine"]


def fibre_lobe(directions: torch.Tensor | np.ndarray, lmax: int = 8, sharpness: float = 12.0) -> torch.Tensor:
    """SH coefficients (..., N) of unit-volume-fraction fibre lobes along ``directions`` (..., 3), world frame.

    The l = 0 coefficient equals ``k_0 * Y_00 = 1 / sqrt(4 pi)`` per fibre, so summed lobes keep their
    volume fractions in the l = 0 term.
    """
    d = torch.as_tensor(np.asarray(directions, dtype=np.float64)) if not isinstance(directions, torch.Tensor) else directions.double()
    ls, _ = sh_degrees(lmax)
    k = torch.as_tensor(np.exp(-ls * (ls + 1) / (2.0 * sharpness)))
    return sh_basis(d, lmax) * k


def oblique_affine(spacing: Sequence[float] = (2.0, 2.0, 2.0), angles_deg: Sequence[float] = (20.0, -10.0, 15.0),
                   origin: Sequence[float] = (-10.0, 5.0, 3.0)) -> np.ndarray:
    """A voxel-to-world affine whose voxel axes are rotated against the world axes (no shear)."""
    from monai_fodgan.geometry import rotation_from_angles

    r = rotation_from_angles(np.deg2rad(angles_deg)).numpy()
    aff = np.eye(4)
    aff[:3, :3] = r @ np.diag(spacing)
    aff[:3, 3] = origin
    return aff


def crossing_fibre_image(
    shape: Sequence[int] = (16, 16, 12),
    affine: np.ndarray | None = None,
    lmax: int = 8,
    crossing_angle_deg: float = 70.0,
    sharpness: float = 12.0,
    iso_fraction: float = 0.1,
) -> MetaTensor:
    """A smooth two-bundle FOD image with a crossing in the middle, defined in WORLD coordinates.

    Bundle A runs along world x and fills the half-space below the grid centre in world z + a margin;
    bundle B runs in the x-y plane at ``crossing_angle_deg`` to A and fills the half-space above minus the
    margin; the slab where both are present holds a two-fibre crossing. Every voxel also has an isotropic
    part (``iso_fraction``), and volume fractions vary smoothly across the grid so interpolation is exercised.

    Args:
        shape: grid size (X, Y, Z).
        affine: voxel-to-world (4, 4); identity spacing 2 mm when None. An oblique affine tests world-frame handling.
        lmax: SH order of the output.
        crossing_angle_deg: angle between the bundles.
        sharpness: lobe sharpness (see :func:`fibre_lobe`).
        iso_fraction: isotropic volume fraction in every voxel.

    Returns:
        ``MetaTensor`` (N, X, Y, Z) float32 with ``affine`` set.
    """
    aff = np.diag([2.0, 2.0, 2.0, 1.0]) if affine is None else np.asarray(affine, dtype=np.float64)
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    world = idx @ aff[:3, :3].T + aff[:3, 3]
    centre = (np.asarray(shape, dtype=np.float64) - 1) / 2 @ aff[:3, :3].T + aff[:3, 3]
    rel = world - centre
    extent = np.abs(aff[:3, :3]).sum(axis=1) * np.asarray(shape).max() / 2  # rough half-size of the FOV in mm
    margin = 0.15 * extent[2]
    a = np.deg2rad(crossing_angle_deg)
    dir_a = np.array([1.0, 0.0, 0.0])
    dir_b = np.array([np.cos(a), np.sin(a), 0.0])
    smooth = 0.5 + 0.5 * np.cos(rel[:, 0] / max(extent[0], 1e-6) * np.pi / 2) ** 2  # spatial variation
    frac_a = ((rel[:, 2] < margin) * 0.6 * smooth)[:, None]
    frac_b = ((rel[:, 2] > -margin) * 0.5 * (1.5 - smooth))[:, None]
    lobes = fibre_lobe(np.stack([dir_a, dir_b]), lmax, sharpness).numpy()
    coeffs = frac_a * lobes[0] + frac_b * lobes[1]
    coeffs[:, 0] += iso_fraction / np.sqrt(4 * np.pi)
    data = coeffs.T.reshape(-1, *shape).astype(np.float32)
    return MetaTensor(torch.from_numpy(data), affine=torch.from_numpy(aff), meta={"filename_or_obj": "crossing_fibre_image"})
