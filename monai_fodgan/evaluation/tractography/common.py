"""What both tractography backends share: settings, the isotropic tracking image, tract regions, the registry.

As the paper did (regrid to isotropic voxels before tracking, "to consider all spatial dimensions equally"),
each FOD image is resampled to isotropic voxels of ``voxel_mm`` keeping its field of view and orientation;
coefficients stay in MRtrix3's basis and the WORLD frame (resampling needs no reorientation). Streamlines stop
where the FOD's largest amplitude falls below ``cutoff`` (MRtrix3's ``-cutoff``; DIPY gets the same threshold as
its stopping mask and ``pmf_threshold``). Algorithm defaults are MRtrix3 3.0's: iFOD2 (probabilistic) steps
0.5 voxel with at most 45 degrees per step; FACT (deterministic, on FOD peaks) steps 0.1 voxel with 60 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from monai_fodgan.evaluation.tractography.settings import ALGORITHMS, TrackingSettings
from monai_fodgan.sh import fibonacci_sphere, sh_to_amplitudes
from monai_fodgan.transforms.functional import resample_world

__all__ = [
    "ALGORITHMS", "TrackingSettings", "TrackingImage", "TractRegions", "Tracker", "isotropic_grid",
    "peak_amplitude", "make_tracking_image",
]

@dataclass
class TrackingImage:
    """An FOD image ready for tracking: isotropic grid, MRtrix3 basis, world frame.

    Attributes:
        fod: (X, Y, Z, C) float32 SH coefficients.
        affine: (4, 4) voxel-to-world of the isotropic grid.
        mask: (X, Y, Z) bool, where the largest FOD amplitude reaches the cutoff (seeding and stopping region).
        work: folder for the backend's files (MRtrix3 needs images on disk).
    """

    fod: np.ndarray
    affine: np.ndarray
    mask: np.ndarray
    work: Path

    @property
    def voxel(self) -> float:
        return float(np.linalg.norm(self.affine[:3, :3], axis=0).mean())


@dataclass
class TractRegions:
    """Where a tract's streamlines must go: seeds in ``include[0]``; every streamline must visit all ``include``
    regions and no ``exclude`` region. Binary (X, Y, Z) volumes on the grid of ``affine``."""

    include: list[np.ndarray]
    exclude: list[np.ndarray] = field(default_factory=list)
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))

    @property
    def reachable(self) -> bool:
        """False when an include region is empty (on a synthetic subject an atlas region can vanish): no streamline
        can then satisfy the tract, which has zero streamlines rather than an error."""
        return all(region.any() for region in self.include)

    @property
    def active_exclude(self) -> list[np.ndarray]:
        """The exclude regions that are not empty (an empty one excludes nothing; MRtrix3 refuses it as a ROI)."""
        return [region for region in self.exclude if region.any()]


class Tracker(Protocol):
    """A tractography backend bound to one subject's :class:`TrackingImage`."""

    name: str
    weighted: bool  # whether connectomes carry SIFT2 weights (True) or streamline counts (False)

    def connectome(self, labels: np.ndarray, labels_affine: np.ndarray, n_nodes: int, n_streamlines: int) -> tuple[np.ndarray, dict]:
        """Whole-brain probabilistic tractography mapped to a (n_nodes, n_nodes) symmetric connectome with a zero
        diagonal (not normalised), and facts about the run (streamlines generated, weights)."""

    def tract(self, algorithm: str, regions: TractRegions, n_streamlines: int) -> list[np.ndarray]:
        """Up to ``n_streamlines`` streamlines (world mm) of one tract with ``algorithm`` ("probabilistic" or
        "deterministic"), selected by ``regions``."""


def isotropic_grid(affine: np.ndarray, shape: tuple[int, ...], voxel: float) -> tuple[np.ndarray, tuple[int, ...]]:
    """(affine, shape) of an isotropic grid of ``voxel`` mm with the same orientation that covers the input grid's
    field of view (voxel edges), centred on it, like ``mrgrid regrid -voxel``."""
    aff = np.asarray(affine, dtype=np.float64)
    spacing = np.linalg.norm(aff[:3, :3], axis=0)
    extent = spacing * np.asarray(shape)
    new_shape = tuple(int(max(1, np.ceil(e / voxel - 1e-6))) for e in extent)
    directions = aff[:3, :3] / spacing
    out = np.eye(4)
    out[:3, :3] = directions * voxel
    centre = aff[:3, :3] @ ((np.asarray(shape) - 1) / 2.0) + aff[:3, 3]
    out[:3, 3] = centre - out[:3, :3] @ ((np.asarray(new_shape) - 1) / 2.0)
    return out, new_shape


def peak_amplitude(fod: np.ndarray, n_directions: int = 300, chunk: int = 200_000) -> np.ndarray:
    """The largest amplitude of each voxel's FOD (X, Y, Z) over ``n_directions`` hemisphere directions.

    Processed in chunks of voxels so that paper-size images do not need gigabytes of direction samples."""
    dirs = fibonacci_sphere(2 * n_directions, dtype=torch.float32)
    dirs = dirs[dirs[:, 2] >= 0]
    flat = np.asarray(fod, dtype=np.float32).reshape(-1, fod.shape[-1])
    out = np.empty(flat.shape[0], dtype=np.float32)
    for start in range(0, flat.shape[0], chunk):
        block = torch.from_numpy(flat[start:start + chunk])
        out[start:start + chunk] = sh_to_amplitudes(block, dirs).max(dim=-1).values.numpy()
    return out.reshape(fod.shape[:-1])


def make_tracking_image(fod: np.ndarray, affine: np.ndarray, settings: TrackingSettings, work: Path) -> TrackingImage:
    """Resample an FOD (X, Y, Z, C) to isotropic voxels and find where its amplitude reaches the cutoff."""
    spacing = np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)
    voxel = float(spacing.min()) if settings.voxel_mm is None else float(settings.voxel_mm)
    iso_affine, iso_shape = isotropic_grid(affine, fod.shape[:3], voxel)
    if np.allclose(iso_affine, affine) and tuple(iso_shape) == fod.shape[:3]:
        iso = np.asarray(fod, dtype=np.float32)
    else:
        data = torch.from_numpy(np.ascontiguousarray(np.moveaxis(fod, -1, 0), dtype=np.float32))
        iso = np.moveaxis(resample_world(data, torch.from_numpy(np.asarray(affine, dtype=np.float64)),
                                         torch.from_numpy(iso_affine), iso_shape).numpy(), 0, -1)
    mask = peak_amplitude(iso) >= settings.cutoff
    work.mkdir(parents=True, exist_ok=True)
    return TrackingImage(np.ascontiguousarray(iso), iso_affine, mask, work)
