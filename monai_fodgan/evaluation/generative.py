"""Generative-model metrics beyond the paper: diversity, distribution distances, memorisation.

* Diversity: pairwise MS-SSIM (Wang et al. 2003, MONAI's implementation) between the AFD maps of a set; lower
  means more diverse; compared with the same number for real subjects. The standard 11-voxel window and 5 scales
  do not fit 128 x 128 x 64 (the coarsest scale would be 4 voxels thick), so :func:`ms_ssim_settings` picks the
  most scales (up to 4) and the largest window (5, else 3; Gaussian sigma (window - 1) / 4) for which the
  coarsest scale still holds a whole window; the standard scale weights are truncated and renormalised.
* MMD: the unbiased squared maximum mean discrepancy (Gretton et al. 2012) between two sets with a Gaussian
  kernel on the images' Euclidean distances (bandwidth: the median pooled distance), and its permutation p-value.
* Memorisation: each synthetic subject's distance to its nearest TRAINING subject, against the same distance for
  held-out real subjects; a synthetic subject closer to a training subject than every held-out subject is
  flagged (a copy of a training subject would be).
* Frechet distance between Gaussian fits of per-subject feature vectors (here: AAL-parcel mean AFD).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "ms_ssim_settings", "pairwise_ms_ssim", "mmd_test", "nearest_neighbours", "memorisation_flags", "frechet_distance",
]

_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003


def ms_ssim_settings(shape: Sequence[int]) -> dict:
    """MS-SSIM window, sigma and scale weights that fit a grid (see the module docstring).

    Raises:
        ValueError: for grids smaller than 3 voxels along an axis.
    """
    m = min(shape)
    for scales, kernel in ((4, 5), (3, 5), (3, 3), (2, 5), (2, 3), (1, 3)):
        coarsest = m // 2 ** (scales - 1)
        monai_check = m // max(1, scales - 1) ** 2 > kernel - 1  # MONAI's own size check
        if coarsest >= kernel and monai_check:
            weights = np.asarray(_WEIGHTS[:scales]) / np.sum(_WEIGHTS[:scales])
            return {"kernel_size": kernel, "kernel_sigma": (kernel - 1) / 4.0, "weights": tuple(weights.tolist())}
    raise ValueError(f"grid {tuple(shape)} is too small for MS-SSIM (needs at least 3 voxels along every axis).")


def pairwise_ms_ssim(images: Sequence[np.ndarray], data_range: float, others: Sequence[np.ndarray] | None = None,
                     batch: int = 8) -> np.ndarray:
    """MS-SSIM of every pair of 3D images: within ``images`` (i < j), or between ``images`` and ``others``."""
    from monai.metrics.regression import compute_ms_ssim

    if others is None:
        pairs = [(i, j) for i in range(len(images)) for j in range(i + 1, len(images))]
        left, right = images, images
    else:
        pairs = [(i, j) for i in range(len(images)) for j in range(len(others))]
        left, right = images, others
    if not pairs:
        return np.zeros(0)
    settings = ms_ssim_settings(images[0].shape)
    out = []
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        a = torch.from_numpy(np.stack([left[i] for i, _ in chunk]).astype(np.float32))[:, None]
        b = torch.from_numpy(np.stack([right[j] for _, j in chunk]).astype(np.float32))[:, None]
        out.append(compute_ms_ssim(a, b, spatial_dims=3, data_range=float(data_range), **settings)[:, 0].numpy())
    return np.concatenate(out).astype(np.float64)


def _mmd2(kernel: np.ndarray, in_a: np.ndarray) -> float:
    a, b = in_a, ~in_a
    kaa, kbb, kab = kernel[np.ix_(a, a)], kernel[np.ix_(b, b)], kernel[np.ix_(a, b)]
    n, m = a.sum(), b.sum()
    return float((kaa.sum() - np.trace(kaa)) / (n * (n - 1)) + (kbb.sum() - np.trace(kbb)) / (m * (m - 1)) - 2 * kab.mean())


def mmd_test(sq_distances: np.ndarray, n_a: int, permutations: int = 1000, seed: int = 0) -> dict[str, float]:
    """Unbiased MMD^2 between the first ``n_a`` items and the rest of a pooled set, with a permutation p-value.

    Args:
        sq_distances: (n, n) squared Euclidean distances of the pooled set (a first, then b).
        n_a: size of set a (both sets need at least 2 items).
        permutations: random relabellings for the p-value.
        seed: their seed.

    Returns:
        {"mmd2", "p", "bandwidth"} (bandwidth: the kernel's sigma, the median pooled distance).
    """
    d2 = np.asarray(sq_distances, dtype=np.float64)
    n = d2.shape[0]
    if n_a < 2 or n - n_a < 2:
        return {"mmd2": float("nan"), "p": float("nan"), "bandwidth": float("nan")}
    off = d2[~np.eye(n, dtype=bool)]
    sigma2 = float(np.median(off)) or 1.0
    kernel = np.exp(-d2 / (2.0 * sigma2))
    labels = np.zeros(n, dtype=bool)
    labels[:n_a] = True
    observed = _mmd2(kernel, labels)
    rng = np.random.default_rng(seed)
    exceed = sum(_mmd2(kernel, rng.permutation(labels)) >= observed for _ in range(permutations))
    return {"mmd2": observed, "p": (1 + exceed) / (1 + permutations), "bandwidth": float(np.sqrt(sigma2))}


def nearest_neighbours(sq_distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of (n, m) squared distances: (index of the nearest column, its Euclidean distance)."""
    d2 = np.asarray(sq_distances, dtype=np.float64)
    idx = d2.argmin(axis=1)
    return idx, np.sqrt(d2[np.arange(len(idx)), idx])


def memorisation_flags(synthetic: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The memorisation rule on nearest-training distances of synthetic and held-out (reference) subjects: (which
    synthetic subjects are flagged, i.e. closer than every held-out subject is; that threshold, the held-out
    subjects' smallest distance; the ratio of the medians, synthetic / held-out). No held-out subjects: none
    flagged, NaN threshold and ratio."""
    syn, ref = np.asarray(synthetic, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if ref.size == 0:
        return np.zeros(syn.shape, dtype=bool), float("nan"), float("nan")
    threshold = float(ref.min())
    return syn < threshold, threshold, float(np.median(syn) / np.median(ref))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussian fits of two sets of
    feature vectors (n_a, F) and (n_b, F) (the FID formula; rank-deficient covariances are fine)."""
    from scipy.linalg import sqrtm

    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(sa @ sb)
    root = np.real(root)
    return float(mu @ mu + np.trace(sa + sb - 2.0 * root))
