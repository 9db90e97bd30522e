"""Dataset statistics that map SH coefficients into the generator's [-1, 1] range, and back exactly.

One scale per SH band l (not per coefficient): a rotation mixes the coefficients of a band but never
changes a band's norm, so per-band scaling commutes with rotation augmentation (per-coefficient scaling
would not). No offset is applied, so background voxels (all zero) stay exactly zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from monai_fodgan.io import atomic_output
from monai_fodgan.sh import band_slices, lmax_from_n_coeffs, n_coeffs

__all__ = ["SHNormalization"]


@dataclass(frozen=True)
class SHNormalization:
    """Per-band scale factors: ``normalised = coeffs / scale[l]``, ``coeffs = normalised * scale[l]``.

    Attributes:
        lmax: maximum even degree the statistics were computed for.
        scales: one positive scale per even l (``lmax / 2 + 1`` values), in the data's units.
        quantile: quantile of |coefficient| over the dataset that maps to 1 (1.0 = maximum: every training
            value lands in [-1, 1]).
        n_images: number of images the statistics came from.
    """

    lmax: int
    scales: tuple[float, ...]
    quantile: float = 1.0
    n_images: int = 0

    def __post_init__(self) -> None:
        if len(self.scales) != self.lmax // 2 + 1:
            raise ValueError(f"lmax {self.lmax} needs {self.lmax // 2 + 1} band scales, got {len(self.scales)}.")
        if not all(np.isfinite(s) and s > 0 for s in self.scales):
            raise ValueError(f"band scales must be finite and positive, got {self.scales}.")

    @classmethod
    def from_images(cls, images: Iterable[torch.Tensor | np.ndarray], quantile: float = 1.0, mask_l0: bool = True) -> SHNormalization:
        """Compute statistics from channel-first images (C, X, Y, Z) sharing one lmax.

        Args:
            images: the training images (any iterable; each is visited once).
            quantile: per band, the quantile of |c| (over all voxels, images and m) that maps to 1. The
                default 1.0 (the maximum) streams over the images; a lower quantile keeps every brain-voxel
                value in memory, so compute it on a subset of a large cohort.
            mask_l0: use only voxels whose l = 0 coefficient is non-zero (ignore background).
        """
        per_band: list[list[np.ndarray]] | None = None
        lmax = -1
        count = 0
        for img in images:
            arr = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
            this_lmax = lmax_from_n_coeffs(arr.shape[0])
            if per_band is None:
                lmax, per_band = this_lmax, [[] for _ in band_slices(this_lmax)]
            elif this_lmax != lmax:
                raise ValueError(f"image {count} has lmax {this_lmax}, the others {lmax}.")
            flat = arr.reshape(arr.shape[0], -1)
            if mask_l0:
                flat = flat[:, flat[0] != 0]
            for band, sl in zip(per_band, band_slices(lmax)):
                values = np.abs(flat[sl]).ravel()
                # keep what a quantile needs: the maximum is exact, other quantiles keep all values
                band.append(values.max(keepdims=True) if quantile >= 1.0 and values.size else values)
            count += 1
        if per_band is None:
            raise ValueError("no images to compute SH normalisation statistics from.")
        scales = []
        for band in per_band:
            values = np.concatenate(band)
            scale = float(np.quantile(values, quantile)) if values.size else 0.0
            scales.append(scale if scale > 0 else 1.0)
        return cls(lmax=lmax, scales=tuple(scales), quantile=quantile, n_images=count)

    def channel_scales(self, n_channels: int | None = None) -> torch.Tensor:
        """Scale per SH channel (C,), float64; ``n_channels`` may be lower than the stats' (truncated lmax)."""
        n = n_coeffs(self.lmax) if n_channels is None else n_channels
        lmax = lmax_from_n_coeffs(n)
        if lmax > self.lmax:
            raise ValueError(f"statistics cover lmax {self.lmax}, the image has lmax {lmax}.")
        out = torch.empty(n, dtype=torch.float64)
        for scale, sl in zip(self.scales, band_slices(lmax)):
            out[sl] = scale
        return out

    def _apply(self, img: torch.Tensor, inverse: bool, channel_dim: int) -> torch.Tensor:
        scale = self.channel_scales(img.shape[channel_dim]).to(device=img.device)
        shape = [1] * img.ndim
        shape[channel_dim] = -1
        # in the image's precision (float32 for training data): a float64 copy of a paper-size image costs
        # 0.3 s per sample in a loader worker, for a difference below float32's rounding
        work = img if img.dtype in (torch.float32, torch.float64) else img.float()
        scale = scale.to(work.dtype).reshape(shape)
        out = work * scale if inverse else work / scale
        return out.to(img.dtype)

    def normalize(self, img: torch.Tensor, channel_dim: int = 0) -> torch.Tensor:
        """Coefficients -> generator range (divide each band by its scale)."""
        return self._apply(img, inverse=False, channel_dim=channel_dim)

    def denormalize(self, img: torch.Tensor, channel_dim: int = 0) -> torch.Tensor:
        """Exact inverse of :meth:`normalize`: back to the data's units."""
        return self._apply(img, inverse=True, channel_dim=channel_dim)

    def save(self, path: str | Path) -> Path:
        """Write the statistics as a small JSON file (atomically)."""
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps({"type": "SHNormalization", **asdict(self)}, indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> SHNormalization:
        """Read statistics written by :meth:`save`."""
        try:
            raw = json.loads(Path(path).read_text())
            raw.pop("type", None)
            return cls(lmax=int(raw["lmax"]), scales=tuple(float(s) for s in raw["scales"]),
                       quantile=float(raw.get("quantile", 1.0)), n_images=int(raw.get("n_images", 0)))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a valid SH normalisation file ({e}).") from e
