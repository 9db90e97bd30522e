"""Tensor-level operations on FOD images, used by the MONAI transforms in this package.

Images are channel-first, ``(C, X, Y, Z)`` or batched ``(B, C, X, Y, Z)``, C = even-order SH coefficients
in MRtrix3's basis and the WORLD frame (see :mod:`monai_fodgan.sh`); ``affine`` is the voxel-to-world
matrix (4, 4) in mm. Every function keeps the data on its device and dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from monai_fodgan.geometry import check_affine, check_orthogonal, image_center
from monai_fodgan.sh import lmax_from_n_coeffs, sh_rotation_matrix

__all__ = ["resample_world", "rotate_fod_image", "flip_fod_image", "resample_to_grid_affine", "apply_sh_matrix"]

_GRID_MODES = {"bilinear": "bilinear", "trilinear": "bilinear", "linear": "bilinear", "nearest": "nearest"}


def _voxel_to_normalised(shape: Sequence[int], dtype=torch.float64, device=None) -> torch.Tensor:
    """4x4 map from voxel index (i, j, k) to grid_sample's normalised (align_corners=True) coordinates,
    with the axis order reversed ((x, y, z) of grid_sample indexes (W, H, D) = our (k, j, i))."""
    m = torch.zeros(4, 4, dtype=dtype, device=device)
    for axis, size in enumerate(shape):
        row = 2 - axis
        m[row, axis] = 2.0 / max(size - 1, 1)
        m[row, 3] = -1.0
    m[3, 3] = 1.0
    return m


def _reverse_spatial(x: torch.Tensor) -> torch.Tensor:
    """View with the three trailing (spatial) axes in reverse order."""
    return x.permute(*range(x.ndim - 3), x.ndim - 1, x.ndim - 2, x.ndim - 3)


def _storage_order(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A contiguous view of a channel-first image, and whether its spatial axes were reversed to get it.

    NIfTI stores (X, Y, Z, C) in Fortran order, i.e. (C, Z, Y, X) in C order: channel-first views of such data
    (what :func:`monai_fodgan.io.load_fod` and MONAI's ``EnsureChannelFirst`` give) are contiguous once the
    spatial axes are reversed. Working in that order avoids copying the whole image twice.
    """
    if not x.is_contiguous() and _reverse_spatial(x).is_contiguous():
        return _reverse_spatial(x), True
    return x.contiguous(), False


def _reverse_axes(affine: torch.Tensor) -> torch.Tensor:
    """Affine of the same grid with voxel axes (i, j, k) relabelled (k, j, i)."""
    out = affine.clone()
    out[:3, :3] = affine[:3, [2, 1, 0]]
    return out


def resample_world(
    img: torch.Tensor,
    in_affine: torch.Tensor,
    out_affine: torch.Tensor,
    out_shape: Sequence[int],
    world_map: torch.Tensor | None = None,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Sample ``img`` at the points of an output grid: each volume independently, no SH reorientation.

    Output voxel i lies at world point ``p = out_affine @ i``; it takes the input's value at world point
    ``world_map @ p`` (``world_map`` maps OUTPUT points to INPUT points, like MRtrix3's ``-linear``;
    identity when None), i.e. at input voxel ``in_affine^-1 @ world_map @ p``. Linear interpolation between
    voxel centres; points outside the input grid take ``padding_mode`` (torch ``grid_sample`` semantics).

    Args:
        img: (C, X, Y, Z) or (B, C, X, Y, Z).
        in_affine, out_affine: (4, 4) voxel-to-world.
        out_shape: output spatial shape (X', Y', Z').
        world_map: (4, 4) or (B, 4, 4) map of world points, output to input.
        mode: "bilinear" (trilinear in 3D) or "nearest".
        padding_mode: "zeros", "border" or "reflection".

    Returns:
        (C, X', Y', Z') or (B, C, X', Y', Z'), same dtype and device as ``img``.
    """
    if img.ndim not in (4, 5):
        raise ValueError(f"expected (C, X, Y, Z) or (B, C, X, Y, Z), got shape {tuple(img.shape)}.")
    work, reversed_axes = _storage_order(img)
    if reversed_axes:
        out = resample_world(work, _reverse_axes(torch.as_tensor(in_affine, dtype=torch.float64)),
                             _reverse_axes(torch.as_tensor(out_affine, dtype=torch.float64)), tuple(out_shape)[::-1],
                             world_map, mode, padding_mode)
        return _reverse_spatial(out)
    batched = img.ndim == 5
    x = work if batched else work.unsqueeze(0)
    dev = img.device
    a_in = torch.as_tensor(in_affine, dtype=torch.float64, device=dev)
    a_out = torch.as_tensor(out_affine, dtype=torch.float64, device=dev)
    t = torch.eye(4, dtype=torch.float64, device=dev) if world_map is None else torch.as_tensor(world_map, dtype=torch.float64, device=dev)
    # normalised output coords -> output voxel -> world -> input world -> input voxel -> normalised input coords
    n_out_inv = torch.linalg.inv(_voxel_to_normalised(out_shape, device=dev))
    theta = _voxel_to_normalised(x.shape[2:], device=dev) @ torch.linalg.inv(a_in) @ t @ a_out @ n_out_inv
    theta = theta[..., :3, :].expand(x.shape[0], 3, 4).to(x.dtype if x.is_floating_point() else torch.float32)
    grid = F.affine_grid(theta, [x.shape[0], 1, *out_shape], align_corners=True)
    work = x if x.is_floating_point() else x.float()
    out = F.grid_sample(work, grid, mode=_GRID_MODES[mode], padding_mode=padding_mode, align_corners=True)
    out = out.to(x.dtype)
    return out if batched else out[0]


def apply_sh_matrix(img: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply (N, N) or per-sample (B, N, N) coefficient matrices to every voxel of an SH image.

    The output keeps the input's memory layout (see :func:`_storage_order`)."""
    work, reversed_axes = _storage_order(img)
    if reversed_axes:
        return _reverse_spatial(apply_sh_matrix(work, matrix))
    img = work
    m = matrix.to(dtype=img.dtype, device=img.device)
    if img.ndim == 4:
        return torch.einsum("ij,jxyz->ixyz", m, img)
    if m.ndim == 2:
        return torch.einsum("ij,bjxyz->bixyz", m, img)
    return torch.einsum("bij,bjxyz->bixyz", m, img)


def rotate_fod_image(
    img: torch.Tensor,
    affine: torch.Tensor,
    rotation: torch.Tensor,
    center: Sequence[float] | torch.Tensor | None = None,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Rotate an FOD image about a world point: ``f'(p, u) = f(R^T (p - c) + c, R^T u)``.

    Moves the voxels (linear interpolation, same grid as the input) AND rotates every voxel's SH
    coefficients with ``M(R)``. Correct on oblique grids because R and c are in world coordinates and the
    coefficients are in the world frame. Equivalent to MRtrix3's
    ``mrtransform in -linear [R^T | c - R^T c] -template in -interp linear -oversample 1 -reorient_fod yes out``.

    Args:
        img: (C, X, Y, Z) or (B, C, X, Y, Z); C an even-order SH count (C = 1 rotates a scalar image, e.g. a mask).
        affine: (4, 4) voxel-to-world.
        rotation: (3, 3), or (B, 3, 3) for one rotation per batch item; world frame.
        center: world point (mm) to rotate about; the grid centre when None.
        mode, padding_mode: see :func:`resample_world`.

    Returns:
        the rotated image, same shape, dtype and device.
    """
    aff = check_affine(affine)
    r = check_orthogonal(rotation).to(dtype=torch.float64, device=img.device)
    if r.ndim == 3 and img.ndim != 5:
        raise ValueError("one rotation per batch item needs a batched (B, C, X, Y, Z) image.")
    c = image_center(aff, img.shape[-3:]) if center is None else torch.as_tensor(center, dtype=torch.float64)
    c = c.to(img.device)
    rt = r.transpose(-1, -2)
    world_map = torch.eye(4, dtype=torch.float64, device=img.device).expand(*r.shape[:-2], 4, 4).clone()
    world_map[..., :3, :3] = rt
    world_map[..., :3, 3] = c - rt @ c
    moved = resample_world(img, aff, aff, img.shape[-3:], world_map, mode=mode, padding_mode=padding_mode)
    lmax = lmax_from_n_coeffs(img.shape[-4])
    if lmax == 0:
        return moved
    return apply_sh_matrix(moved, sh_rotation_matrix(r, lmax))


def flip_fod_image(img: torch.Tensor, affine: torch.Tensor, spatial_axis: int | Sequence[int]) -> torch.Tensor:
    """Mirror an FOD image along voxel axes, keeping its affine: a reflection of the anatomy in world space.

    The voxel data is reversed along each axis in ``spatial_axis`` (0, 1, 2 = i, j, k), and the coefficients
    are reflected with ``M(F)``, F = the world reflection across the plane normal to that voxel axis through
    the grid centre. A flip along the left-right axis of an axis-aligned image turns a left hemisphere into
    a right one, with fibres mirrored accordingly.

    Args:
        img: (C, X, Y, Z) or (B, C, X, Y, Z).
        affine: (4, 4) voxel-to-world (must have no shear).
        spatial_axis: one voxel axis or several.

    Returns:
        the mirrored image, same shape, dtype and device.
    """
    aff = check_affine(affine)
    axes = [spatial_axis] if isinstance(spatial_axis, int) else list(spatial_axis)
    direction = aff[:3, :3] / torch.linalg.vector_norm(aff[:3, :3], dim=0)  # world direction of each voxel axis
    reflection = torch.eye(3, dtype=torch.float64)
    for a in axes:
        if a not in (0, 1, 2, -1, -2, -3):
            raise ValueError(f"spatial_axis must be in 0..2, got {a}.")
        n = direction[:, a % 3].cpu()
        reflection = (torch.eye(3, dtype=torch.float64) - 2.0 * torch.outer(n, n)) @ reflection
    dims = [img.ndim - 3 + (a % 3) for a in axes]
    flipped = torch.flip(img, dims=dims)
    lmax = lmax_from_n_coeffs(img.shape[-4])
    if lmax == 0:
        return flipped
    return apply_sh_matrix(flipped, sh_rotation_matrix(reflection.to(img.device), lmax))


def resample_to_grid_affine(affine: torch.Tensor, in_shape: Sequence[int], out_shape: Sequence[int]) -> torch.Tensor:
    """Affine of a grid of ``out_shape`` voxels covering the same field of view as the input grid.

    The field of view is the box spanned by the voxel EDGES (as MRtrix3's ``mrgrid regrid -size`` keeps it):
    spacing scales by ``in / out`` per axis and the first voxel centre moves accordingly.
    """
    aff = check_affine(affine)
    scale = torch.tensor([i / o for i, o in zip(in_shape, out_shape)], dtype=torch.float64, device=aff.device)
    out = aff.clone()
    out[:3, :3] = aff[:3, :3] * scale
    # old voxel-edge corner -0.5 must stay where it is: new centre 0 sits at old index (scale - 1) / 2
    out[:3, 3] = (aff @ torch.cat([(scale - 1.0) / 2.0, scale.new_ones(1)]))[:3]
    return out
