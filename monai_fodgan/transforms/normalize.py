"""Dataset statistics that map SH coefficients into the generator's [-1, 1] range, and back exactly.

Three modes (the training recipe's ``normalization_mode``):

* ``"raw"``: no scaling (every scale 1): the paper's choice, raw MRtrix3 values (mostly within +-0.5) fed to tanh,
  for which its lambda = 50,000 was tuned;
* ``"global"``: one scale for all coefficients, a quantile of |c| over every band;
* ``"per_band"``: one scale per SH band l, each band's quantile of |c| (l = 6 then weighs as much as l = 0).

Never per coefficient: a rotation mixes the coefficients of a band but never changes a band's norm, so these
scalings commute with rotation augmentation. No offset is applied, so background voxels (all zero) stay exactly
zero. A quantile below 1 (e.g. 0.999) keeps a few outlier voxels from setting the scale; 1.0 is the maximum.
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

__all__ = ["SHNormalization", "NORMALIZATION_MODES"]

#: ``raw`` (the paper: no scaling), ``global`` (one scale), ``per_band`` (one scale per SH band l).
NORMALIZATION_MODES = ("raw", "global", "per_band")


@dataclass(frozen=True)
class SHNormalization:
    """Per-band scale factors: ``normalised = coeffs / scale[l]``, ``coeffs = normalised * scale[l]``.

    Attributes:
        lmax: maximum even degree the statistics were computed for.
        scales: one positive scale per even l (``lmax / 2 + 1`` values), in the data's units (all equal for
            ``global``, all 1 for ``raw``).
        quantile: quantile of |coefficient| over the dataset that maps to 1 (1.0 = maximum: every training
            value lands in [-1, 1]).
        n_images: number of images the statistics came from.
        mode: one of :data:`NORMALIZATION_MODES` (how ``scales`` were computed).
    """

    lmax: int
    scales: tuple[float, ...]
    quantile: float = 1.0
    n_images: int = 0
    mode: str = "per_band"

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZATION_MODES:
            raise ValueError(f"normalisation mode must be one of {NORMALIZATION_MODES}, got {self.mode!r}.")
        if len(self.scales) != self.lmax // 2 + 1:
            raise ValueError(f"lmax {self.lmax} needs {self.lmax // 2 + 1} band scales, got {len(self.scales)}.")
        if not all(np.isfinite(s) and s > 0 for s in self.scales):
            raise ValueError(f"band scales must be finite and positive, got {self.scales}.")

    @classmethod
    def raw(cls, lmax: int) -> SHNormalization:
        """The paper's choice: no scaling at all (every scale 1)."""
        return cls(lmax=lmax, scales=(1.0,) * (lmax // 2 + 1), quantile=1.0, n_images=0, mode="raw")

    @classmethod
    def from_images(cls, images: Iterable[torch.Tensor | np.ndarray], quantile: float = 1.0, mask_l0: bool = True,
                    mode: str = "per_band") -> SHNormalization:
        """Compute statistics from channel-first images (C, X, Y, Z) sharing one lmax.

        Args:
            images: the training images (any iterable; each is visited once).
            quantile: per band (``per_band``) or over all bands (``global``), the quantile of |c| (over all voxels,
                images and m) that maps to 1. The default 1.0 (the maximum) streams over the images; a lower
                quantile keeps every brain-voxel value in memory, so compute it on a subset of a large cohort.
            mask_l0: use only voxels whose l = 0 coefficient is non-zero (ignore background).
            mode: one of :data:`NORMALIZATION_MODES`; ``raw`` reads only the first image's lmax.
        """
        if mode not in NORMALIZATION_MODES:
            raise ValueError(f"normalisation mode must be one of {NORMALIZATION_MODES}, got {mode!r}.")
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
        if mode == "raw":
            return cls(lmax=lmax, scales=(1.0,) * len(per_band), quantile=1.0, n_images=count, mode="raw")
        groups = [np.concatenate([v for band in per_band for v in band])] if mode == "global" else \
            [np.concatenate(band) for band in per_band]
        scales = []
        for values in groups:
            scale = float(np.quantile(values, quantile)) if values.size else 0.0
            scales.append(scale if scale > 0 else 1.0)
        if mode == "global":
            scales = scales * len(per_band)
        return cls(lmax=lmax, scales=tuple(scales), quantile=quantile, n_images=count, mode=mode)

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

    def to_dict(self) -> dict:
        """Plain numbers (for JSON files and checkpoints loaded with ``weights_only=True``)."""
        out = asdict(self)
        out["scales"] = list(self.scales)
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> SHNormalization:
        """Inverse of :meth:`to_dict`; files and checkpoints written before ``mode`` existed are ``per_band``."""
        return cls(lmax=int(raw["lmax"]), scales=tuple(float(s) for s in raw["scales"]),
                   quantile=float(raw.get("quantile", 1.0)), n_images=int(raw.get("n_images", 0)),
                   mode=str(raw.get("mode", "per_band")))

    def save(self, path: str | Path) -> Path:
        """Write the statistics as a small JSON file (atomically)."""
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps({"type": "SHNormalization", **self.to_dict()}, indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> SHNormalization:
        """Read statistics written by :meth:`save`."""
        try:
            raw = json.loads(Path(path).read_text())
            raw.pop("type", None)
            return cls.from_dict(raw)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a valid SH normalisation file ({e}).") from e
