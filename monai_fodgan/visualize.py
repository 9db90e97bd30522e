"""Slice figures of FOD images: the l = 0 map and a direction-encoded colour (DEC) map of the FOD peaks.

DEC colours follow the usual diffusion-MRI convention in the WORLD frame: red = left-right (x),
green = anterior-posterior (y), blue = inferior-superior (z), brightness = peak amplitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from monai_fodgan.io import atomic_output
from monai_fodgan.sh import fibonacci_sphere, lmax_from_n_coeffs, sh_degrees, sh_to_amplitudes

__all__ = ["coefficient_label", "peak_colour_slice", "plot_fod_slices", "plot_coefficient_slices", "slice_aspect", "voxel_sizes"]

_PLANES = {"sagittal": 0, "coronal": 1, "axial": 2}


def _slice(img: torch.Tensor, plane: str, index: int | None) -> torch.Tensor:
    axis = _PLANES[plane]
    idx = img.shape[axis + 1] // 2 if index is None else index
    return img.select(axis + 1, idx)  # (C, a, b)


def voxel_sizes(img: object, voxel_size: Sequence[float] | None = None) -> tuple[float, float, float]:
    """Voxel edge lengths (mm) of an image: ``voxel_size`` if given, else the column norms of a MetaTensor's
    affine, else 1 mm (a plain array carries no geometry)."""
    if voxel_size is not None:
        sizes = tuple(float(v) for v in voxel_size)
        if len(sizes) != 3 or min(sizes) <= 0:
            raise ValueError(f"voxel_size must be three positive lengths in mm, got {voxel_size!r}.")
        return sizes  # type: ignore[return-value]
    affine = getattr(img, "affine", None)
    if affine is None:
        return (1.0, 1.0, 1.0)
    a = np.asarray(torch.as_tensor(affine).detach().cpu(), dtype=np.float64)
    return tuple(float(v) for v in np.linalg.norm(a[:3, :3], axis=0))  # type: ignore[return-value]


def slice_aspect(plane: str, sizes: Sequence[float]) -> float:
    """``imshow`` aspect (pixel height / width) of a transposed middle slice, so that it is drawn in mm:
    rows run along the plane's second in-plane axis, columns along its first."""
    a, b = (k for k in range(3) if k != _PLANES[plane])
    return float(sizes[b]) / float(sizes[a])


def peak_colour_slice(coeffs_2d: torch.Tensor, n_directions: int = 400) -> np.ndarray:
    """DEC image (a, b, 3) in [0, 1] from a (C, a, b) slice of SH coefficients (world frame).

    Each pixel's colour is |peak direction| scaled by its peak amplitude relative to the slice's maximum.
    Directions are searched over a hemisphere grid of ``n_directions`` points (antipodal symmetry).
    """
    dirs = fibonacci_sphere(2 * n_directions, dtype=torch.float32)
    dirs = dirs[dirs[:, 2] >= 0]
    c = coeffs_2d.detach().float().cpu()
    amps = sh_to_amplitudes(c.permute(1, 2, 0), dirs)  # (a, b, K)
    peak, arg = amps.max(dim=-1)
    colour = dirs[arg].abs() * (peak.clamp_min(0) / peak.max().clamp_min(1e-12))[..., None]
    return colour.numpy()


def plot_fod_slices(
    images: Sequence[torch.Tensor],
    titles: Sequence[str],
    path: str | Path,
    planes: Sequence[str] = ("axial", "coronal", "sagittal"),
    voxel_size: Sequence[float] | None = None,
) -> Path:
    """Save a PNG grid: one row per image; per plane the l = 0 map and the DEC peak map (middle slices),
    drawn in mm (anisotropic voxels are not squashed into squares).

    Args:
        images: channel-first FOD images (C, X, Y, Z).
        titles: one title per image.
        path: output PNG (written atomically).
        planes: which planes to show.
        voxel_size: voxel edge lengths in mm for every image; by default each MetaTensor's affine, else 1 mm.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(images), 2 * len(planes), figsize=(3.0 * 2 * len(planes), 3.0 * len(images)), squeeze=False)
    vmax = max(float(torch.as_tensor(img)[0].max()) for img in images)
    for row, (img, title) in enumerate(zip(images, titles)):
        t = torch.as_tensor(img)
        sizes = voxel_sizes(img, voxel_size)
        for col, plane in enumerate(planes):
            s = _slice(t, plane, None)
            aspect = slice_aspect(plane, sizes)
            ax0, ax1 = axes[row, 2 * col], axes[row, 2 * col + 1]
            ax0.imshow(s[0].cpu().numpy().T, origin="lower", cmap="gray", vmin=0, vmax=vmax, aspect=aspect)
            ax0.set_title(f"{title}\n{plane}, l=0", fontsize=8)
            ax1.imshow(np.transpose(peak_colour_slice(s), (1, 0, 2)), origin="lower", aspect=aspect)
            ax1.set_title(f"{plane}, peak direction", fontsize=8)
            for ax in (ax0, ax1):
                ax.set_axis_off()
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)


def coefficient_label(index: int, lmax: int = 6) -> str:
    """A coefficient as figures and captions name it: volume number counted from 1 (as ``mrview`` and MRtrix3's
    documentation count), with its degree and order; e.g. index 3 -> "volume 4 (l=2, m=0)"."""
    degrees, orders = sh_degrees(lmax)
    return f"volume {index + 1} (l={degrees[index]}, m={orders[index]})"


def plot_coefficient_slices(
    images: torch.Tensor | Sequence[torch.Tensor],
    coefficients: Sequence[int],
    path: str | Path,
    title: str = "",
    planes: Sequence[str] = ("axial", "coronal", "sagittal"),
    voxel_size: Sequence[float] | None = None,
    row_labels: Sequence[str] | None = None,
) -> Path:
    """Save a PNG grid of raw SH coefficient maps: one row per image, per plane one middle slice of each
    chosen coefficient (MRtrix3 order; 0 is l = 0, shown in grey from 0; others in a diverging map). Panels are
    titled by volume number counted from 1, as MRtrix3's ``mrview`` and figure captions count them, with the
    coefficient's degree and order: "volume 4 (l=2, m=-1)" is channel index 3.

    Args:
        images: (N, C, X, Y, Z) batch or a list of (C, X, Y, Z) images.
        coefficients: channel indices to show.
        path: output PNG (written atomically).
        title: figure title.
        planes: which planes to show.
        voxel_size: voxel edge lengths in mm; by default the first MetaTensor's affine, else 1 mm.
        row_labels: a name per image, written left of its row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = voxel_sizes(images[0], voxel_size)
    imgs = [torch.as_tensor(i).detach().float().cpu() for i in images]
    ncol = len(planes) * len(coefficients)
    lmax = lmax_from_n_coeffs(imgs[0].shape[0])
    fig, axes = plt.subplots(len(imgs), ncol, figsize=(1.9 * ncol, 1.9 * len(imgs) + 0.8), squeeze=False)
    limits = {c: max(float(i[c].abs().max()) for i in imgs) or 1.0 for c in coefficients}
    for row, img in enumerate(imgs):
        for p, plane in enumerate(planes):
            s = _slice(img, plane, None)
            for k, c in enumerate(coefficients):
                ax = axes[row, p * len(coefficients) + k]
                lim = limits[c]
                shown = dict(cmap="gray", vmin=0, vmax=lim) if c == 0 else dict(cmap="RdBu_r", vmin=-lim, vmax=lim)
                ax.imshow(s[c].numpy().T, origin="lower", aspect=slice_aspect(plane, sizes), **shown)
                if row == 0:
                    ax.set_title(f"{plane}\n{coefficient_label(c, lmax)}", fontsize=10)
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
            if row_labels is not None and p == 0:
                axes[row, 0].set_ylabel(row_labels[row], fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)
