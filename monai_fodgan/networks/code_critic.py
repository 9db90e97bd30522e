"""The code critic CD (paper Table 4): tells encoder codes z_e = E(x) from prior samples z_r ~ N(0, I)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from monai_fodgan.networks.strict_loading import StrictLoadMixin

__all__ = ["CodeCritic"]


class CodeCritic(StrictLoadMixin, nn.Module):
    """Latent code (B, latent) -> critic value (B, 1): Linear + BatchNorm1d + LeakyReLU per hidden layer,
    then a linear output.

    Args:
        latent_size: code length (paper: 5000).
        hidden: hidden widths (paper: 4096, 4096).
        slope: LeakyReLU slope (paper: 0.2).
        norm: ``"batch"`` (the paper) or ``"none"``.

    Example::

        >>> CodeCritic(64, hidden=(32, 32))(torch.randn(4, 64)).shape
        torch.Size([4, 1])
    """

    def __init__(self, latent_size: int, hidden: Sequence[int] = (4096, 4096), slope: float = 0.2, norm: str = "batch") -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}.")
        self.latent_size = int(latent_size)
        layers: list[nn.Module] = []
        prev = latent_size
        for width in hidden:
            layers.append(nn.Linear(prev, width))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(slope))
            prev = width
        layers.append(nn.Linear(prev, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) -> (B, 1)."""
        return self.net(z.reshape(z.shape[0], self.latent_size))
