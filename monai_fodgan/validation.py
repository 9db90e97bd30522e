"""Checks that an array really is an FOD image before any work starts."""

from __future__ import annotations

import numpy as np
import torch

from monai_fodgan.sh import lmax_from_n_coeffs, n_coeffs

__all__ = ["FODValidationError", "check_fod_array"]


class FODValidationError(ValueError):
    """An image is not a valid FOD image; the message names the file (or source) and the problem."""


def check_fod_array(
    data: torch.Tensor | np.ndarray,
    source: str = "<array>",
    lmax: int | None = None,
    truncate: bool = False,
    channel_dim: int = 0,
) -> torch.Tensor | np.ndarray:
    """Validate an FOD image and optionally truncate it to a lower ``lmax``.

    Args:
        data: 4D array, SH coefficients along ``channel_dim`` (MRtrix3 order, so the first
            ``n_coeffs(l)`` volumes are exactly the l-truncated image).
        source: file name or description, repeated in every error message.
        lmax: required maximum degree; None accepts any even-order SH count.
        truncate: when the image has a higher lmax than ``lmax`` (e.g. an HCP lmax-8 ``wm.mif``, 45
            volumes), keep its first ``n_coeffs(lmax)`` volumes instead of raising.
        channel_dim: the SH axis (0 for MONAI's channel-first, 3 or -1 for NIfTI's volume axis).

    Returns:
        ``data`` (possibly truncated along ``channel_dim``), same type.

    Raises:
        FODValidationError: not 4D; volume count not an even-order SH count; lmax too low, or too high
            without ``truncate``; NaN or infinite values.
    """
    if data.ndim != 4:
        raise FODValidationError(f"{source}: expected a 4D FOD image (3 spatial axes + SH volumes), got {data.ndim}D shape {tuple(data.shape)}.")
    n = data.shape[channel_dim]
    try:
        have = lmax_from_n_coeffs(n)
    except ValueError as e:
        raise FODValidationError(f"{source}: {e}") from None
    if lmax is not None:
        want = n_coeffs(lmax)
        if have < lmax:
            raise FODValidationError(f"{source}: has lmax {have} ({n} volumes) but lmax {lmax} ({want} volumes) is required.")
        if have > lmax:
            if not truncate:
                raise FODValidationError(
                    f"{source}: has lmax {have} ({n} volumes), expected lmax {lmax} ({want}); pass truncate=True to keep the first {want} volumes."
                )
            index = [slice(None)] * 4
            index[channel_dim] = slice(0, want)
            data = data[tuple(index)]
    finite = torch.isfinite(data).all() if isinstance(data, torch.Tensor) else np.isfinite(data).all()
    if not bool(finite):
        bad = int((~torch.isfinite(data)).sum()) if isinstance(data, torch.Tensor) else int((~np.isfinite(data)).sum())
        raise FODValidationError(f"{source}: contains {bad} NaN or infinite values.")
    return data
