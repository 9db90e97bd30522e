"""Voxel-level statistics of FOD images, as in the paper's Fig. 3-4 and Eq. 5.

* coefficient histograms: every voxel of every image of a set, per SH coefficient, on common bin edges (the
  paper plots them on a log scale: synthetic red, validation blue);
* the fraction of voxels whose l = 0 coefficient is negative (a negative FOD integral is unphysical; the paper
  saw some in synthetic data and none in real data). Solver round-off (~1e-7 of the maximum in MRtrix3's
  ``msmt_csd`` output) is not counted: a voxel counts when c00 < -``tolerance`` x the image's largest |c00|;
* regional statistics: per AAL parcel the pooled mean and standard deviation of the apparent fibre density
  (AFD = c00 sqrt(4 pi)) over all voxels of all subjects of a set, and the relative differences of Eq. 5,
  |a - b| / (a + b), between two sets. The denominator is taken as |a| + |b|: the same for the positive values
  the paper had, and bounded by 1 where a synthetic parcel's mean AFD is negative or both are near zero.

Images are (X, Y, Z, C) arrays (SH last, MRtrix3 basis, world frame).
"""

from __future__ import annotations

import numpy as np

from monai_fodgan.evaluation.subjects import afd_map

__all__ = [
    "coefficient_range", "histogram_edges", "coefficient_histograms", "negative_l0_fraction", "l0_maps",
    "reference_brain_mask", "parcel_sums",
    "pooled_parcel_stats", "relative_difference",
]


def coefficient_range(fod: np.ndarray) -> np.ndarray:
    """(C, 2) minimum and maximum of each SH coefficient over the image."""
    flat = np.asarray(fod).reshape(-1, fod.shape[-1])
    return np.stack([flat.min(0), flat.max(0)], axis=1).astype(np.float64)


def histogram_edges(ranges: np.ndarray, bins: int = 100) -> np.ndarray:
    """(C, bins + 1) common bin edges per coefficient from per-image ranges (S, C, 2) of all sets together."""
    lo, hi = ranges[..., 0].min(0), ranges[..., 1].max(0)
    hi = np.where(hi > lo, hi, lo + 1e-12)
    return np.stack([np.linspace(a, b, bins + 1) for a, b in zip(lo, hi)])


def coefficient_histograms(fod: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(C, bins) voxel counts of each coefficient of one image in the common ``edges`` (values outside are clipped
    into the end bins, so every voxel is counted)."""
    flat = np.asarray(fod).reshape(-1, fod.shape[-1])
    counts = np.zeros((flat.shape[1], edges.shape[1] - 1), dtype=np.int64)
    for c in range(flat.shape[1]):
        values = np.clip(flat[:, c], edges[c, 0], edges[c, -1])
        counts[c] = np.histogram(values, bins=edges[c])[0]
    return counts


def negative_l0_fraction(fod: np.ndarray, tolerance: float = 1e-4) -> float:
    """Fraction of voxels with a negative l = 0 coefficient (below -``tolerance`` x the largest |c00|)."""
    c00 = np.asarray(fod)[..., 0]
    scale = float(np.abs(c00).max())
    if scale == 0:
        return 0.0
    return float(np.mean(c00 < -tolerance * scale))


def l0_maps(fod: np.ndarray, tolerance: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """(negative, non-zero) boolean (X, Y, Z) maps of the l = 0 coefficient: below -``tolerance`` x the largest |c00|,
    and |c00| above that (the voxels an image covers)."""
    c00 = np.asarray(fod)[..., 0]
    scale = float(np.abs(c00).max())
    if scale == 0:
        return np.zeros(c00.shape, bool), np.zeros(c00.shape, bool)
    return c00 < -tolerance * scale, np.abs(c00) > tolerance * scale


def reference_brain_mask(nonzero_count: np.ndarray, n_reference: int) -> np.ndarray:
    """Voxels inside the brain of at least half of the reference subjects (non-zero l = 0).

    Why from the reference set: synthetic subjects have no brain mask of their own, and prepared real FODs are zero
    outside theirs; a voxel that most real brains cover is brain on the common grid. Statistics over it leave out
    the background, where a generator's small negative values would otherwise dominate."""
    return np.asarray(nonzero_count) >= max(1, -(-n_reference // 2))


def parcel_sums(fod: np.ndarray, labels: np.ndarray, n_labels: int = 116) -> np.ndarray:
    """(n_labels, 3) voxel count, sum and sum of squares of AFD in each parcel 1..n_labels of ``labels`` (X, Y, Z)."""
    afd = afd_map(np.asarray(fod)).astype(np.float64).ravel()
    lab = np.asarray(labels).ravel().astype(np.int64)
    keep = (lab > 0) & (lab <= n_labels)
    out = np.zeros((n_labels, 3))
    out[:, 0] = np.bincount(lab[keep] - 1, minlength=n_labels)
    out[:, 1] = np.bincount(lab[keep] - 1, weights=afd[keep], minlength=n_labels)
    out[:, 2] = np.bincount(lab[keep] - 1, weights=afd[keep] ** 2, minlength=n_labels)
    return out


def pooled_parcel_stats(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled mean and standard deviation of AFD per parcel over all voxels of all subjects of a set.

    Args:
        sums: (S, n_labels, 3) :func:`parcel_sums` of the set's subjects.

    Returns:
        (mean, sd), each (n_labels,); NaN for parcels with fewer than two voxels in the set.
    """
    total = np.asarray(sums, dtype=np.float64).sum(axis=0)
    n, s, ss = total[:, 0], total[:, 1], total[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s / n, np.nan)
        var = np.where(n > 1, (ss - n * mean ** 2) / (n - 1), np.nan)
    return mean, np.sqrt(np.clip(var, 0, None))


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The paper's Eq. 5, |a - b| / (|a| + |b|) elementwise: in [0, 1]; NaN where both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denominator = np.abs(a) + np.abs(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, np.abs(a - b) / denominator, np.nan)
