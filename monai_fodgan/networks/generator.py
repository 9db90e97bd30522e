"""The alpha-WGAN generator G: latent code (B, latent) -> SH image (B, C, X, Y, Z) in [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from monai_fodgan.networks.layout import stage_factors, start_shape

__all__ = ["FODGenerator"]


class FODGenerator(nn.Module):
    """Latent vector to a normalised SH image (paper Table 1).

    A transposed convolution turns the code into a ``start_shape`` grid with ``channels[0]`` features
    (no bias, BatchNorm, LeakyReLU ``first_slope``); then, per stage, nearest-neighbour upsampling by the
    stage's factors and a 3 x 3 x 3 convolution (no bias) with BatchNorm and ReLU, ``channels[i] ->
    channels[i + 1]``; the last stage convolves to ``out_channels`` SH coefficients and applies tanh.

    Args:
        latent_size: length of the latent code (paper: 5000).
        out_channels: SH coefficients per voxel (28 for lmax 6).
        spatial_shape: output grid (X, Y, Z) (paper: 128 x 128 x 64).
        channels: features per stage, from coarse to fine (paper: 3200, 1600, 800, 400, 200); its length is the
            number of upsampling stages.
        first_slope: LeakyReLU slope after the transposed convolution (paper: 0.1).
        min_start: smallest start size per axis (paper: 4, so the 64-voxel axis doubles one time fewer).

    Example::

        >>> g = FODGenerator(latent_size=64, out_channels=28, spatial_shape=(32, 32, 16), channels=(32, 16, 8))
        >>> g(torch.randn(2, 64)).shape
        torch.Size([2, 28, 32, 32, 16])
    """

    def __init__(
        self,
        latent_size: int,
        out_channels: int,
        spatial_shape: Sequence[int],
        channels: Sequence[int],
        first_slope: float = 0.1,
        min_start: int = 4,
    ) -> None:
        super().__init__()
        self.latent_size = int(latent_size)
        self.spatial_shape = tuple(int(s) for s in spatial_shape)
        levels = len(channels)
        start = start_shape(self.spatial_shape, levels, min_start)
        factors = stage_factors(self.spatial_shape, levels, min_start)
        self.head = nn.Sequential(
            nn.ConvTranspose3d(latent_size, channels[0], kernel_size=start, stride=1, padding=0, bias=False),
            nn.BatchNorm3d(channels[0]),
            nn.LeakyReLU(first_slope),
        )
        stages: list[nn.Module] = []
        for i, factor in enumerate(factors):
            last = i == levels - 1
            out = out_channels if last else channels[i + 1]
            stages += [nn.Upsample(scale_factor=factor, mode="nearest"), nn.Conv3d(channels[i], out, 3, 1, 1, bias=False)]
            stages += [nn.Tanh()] if last else [nn.BatchNorm3d(out), nn.ReLU()]
        self.body = nn.Sequential(*stages)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) or (B, latent, 1, 1, 1) codes -> (B, out_channels, X, Y, Z) images in [-1, 1]."""
        return self.body(self.head(z.reshape(z.shape[0], self.latent_size, 1, 1, 1)))
