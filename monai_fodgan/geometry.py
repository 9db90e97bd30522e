"""Rotations and image-grid geometry in world (scanner RAS, mm) coordinates.

Conventions:

* A voxel-to-world ``affine`` (4, 4) maps voxel indices (i, j, k, 1) to world points in mm, as in NIfTI,
  nibabel, MONAI's ``MetaTensor.affine`` and MRtrix3 (which all use RAS world coordinates).
* Rotations are 3 x 3 matrices acting on column vectors of world coordinates.
* Angles are in radians, as in MONAI's ``Rotate``; ``rotation_from_angles((ax, ay, az))`` rotates about the
  world x axis first, then y, then z: ``R = Rz @ Ry @ Rx``, right-handed (counter-clockwise seen from the
  positive axis).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["axis_rotation", "rotation_from_angles", "image_center", "check_orthogonal", "check_affine"]


def axis_rotation(axis: int, angle: torch.Tensor | float) -> torch.Tensor:
    """Rotation by ``angle`` radians about world axis 0 (x), 1 (y) or 2 (z); batched over ``angle``'s shape."""
    a = torch.as_tensor(angle, dtype=torch.float64) if not isinstance(angle, torch.Tensor) else angle
    c, s = torch.cos(a), torch.sin(a)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    elif axis == 2:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    else:
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}.")
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def rotation_from_angles(angles: Sequence[float] | torch.Tensor | np.ndarray) -> torch.Tensor:
    """Successive rotations about world x, then y, then z (radians): ``Rz(az) @ Ry(ay) @ Rx(ax)``.

    Args:
        angles: (..., 3) angles in radians.

    Returns:
        (..., 3, 3) rotation matrices (float64 unless ``angles`` is a floating tensor).
    """
    a = angles if isinstance(angles, torch.Tensor) else torch.as_tensor(np.asarray(angles, dtype=np.float64))
    if a.shape[-1] != 3:
        raise ValueError(f"angles must have 3 components (about x, y, z), got shape {tuple(a.shape)}.")
    return axis_rotation(2, a[..., 2]) @ axis_rotation(1, a[..., 1]) @ axis_rotation(0, a[..., 0])


def image_center(affine: torch.Tensor | np.ndarray, spatial_shape: Sequence[int]) -> torch.Tensor:
    """World coordinates (mm) of the centre of a voxel grid: the affine applied to index ``(shape - 1) / 2``."""
    aff = torch.as_tensor(np.asarray(affine, dtype=np.float64)) if not isinstance(affine, torch.Tensor) else affine.double()
    idx = torch.tensor([(s - 1) / 2.0 for s in spatial_shape] + [1.0], dtype=torch.float64, device=aff.device)
    return (aff @ idx)[:3]


def check_orthogonal(matrix: torch.Tensor | np.ndarray, atol: float = 1e-4, name: str = "rotation") -> torch.Tensor:
    """Return ``matrix`` as a float64 tensor of shape (..., 3, 3) after checking that it is orthogonal.

    Raises:
        ValueError: when the shape is not (..., 3, 3) or ``R R^T`` differs from the identity by more than ``atol``.
    """
    r = matrix if isinstance(matrix, torch.Tensor) else torch.as_tensor(np.asarray(matrix, dtype=np.float64))
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"{name} must have shape (..., 3, 3), got {tuple(r.shape)}.")
    err = (r.double() @ r.double().transpose(-1, -2) - torch.eye(3, dtype=torch.float64, device=r.device)).abs().max()
    if err > atol:
        raise ValueError(f"{name} is not orthogonal (max |R R^T - I| = {float(err):.2e}); only rotations and reflections are allowed.")
    return r


def check_affine(affine: torch.Tensor | np.ndarray, name: str = "image") -> torch.Tensor:
    """Return a voxel-to-world affine as float64 (4, 4) after checking it is invertible and has no shear.

    A sheared grid has no single rotation between voxel and world axes, which reflections of the voxel
    data (``SHFlip``) rely on.
    """
    aff = affine if isinstance(affine, torch.Tensor) else torch.as_tensor(np.asarray(affine, dtype=np.float64))
    aff = aff.double()
    if aff.shape != (4, 4):
        raise ValueError(f"{name}: affine must be 4 x 4, got {tuple(aff.shape)}.")
    lin = aff[:3, :3]
    spacing = torch.linalg.vector_norm(lin, dim=0)
    if not torch.isfinite(aff).all() or (spacing <= 0).any():
        raise ValueError(f"{name}: affine is singular or not finite:\n{aff.cpu().numpy()}")
    q = lin / spacing
    if (q.T @ q - torch.eye(3, dtype=torch.float64, device=aff.device)).abs().max() > 1e-3:
        raise ValueError(f"{name}: affine has shear (voxel axes not orthogonal in world space); not supported.")
    return aff
