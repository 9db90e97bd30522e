"""The image critic D and the encoder E (paper Tables 2-3): the same strided convolution stack, ending
in one critic value (D) or a latent code (E)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from monai_fodgan.networks.exact_forms import full_grid_conv3d
from monai_fodgan.networks.layout import stage_factors, start_shape
from monai_fodgan.networks.strict_loading import StrictLoadMixin

__all__ = ["FODCritic", "FODEncoder"]


class FODCritic(StrictLoadMixin, nn.Module):
    """SH image (B, C, X, Y, Z) -> (B, out_features): the Wasserstein critic, or the encoder's code.

    Each stage is a convolution with padding 1 that halves the axes whose stride is 2 (kernel 4) and keeps
    the others (kernel 3, stride 1), as the paper's last stage k(4, 4, 3) s(2, 2, 1); the first stage has
    no normalisation and LeakyReLU ``first_slope``, the others BatchNorm and LeakyReLU ``slope``. A final
    convolution whose kernel covers the remaining grid (paper: 4 x 4 x 4, padding 0) gives the output.
    Convolution biases are on, as in the published code.

    Args:
        in_channels: SH coefficients per voxel (28 for lmax 6).
        spatial_shape: input grid (X, Y, Z).
        channels: features per stage (paper: 125, 250, 500, 1000, 2000).
        out_features: 1 for the critic, the latent size for the encoder (paper: 5000).
        first_slope: LeakyReLU slope of the first stage (paper: 0.2).
        slope: LeakyReLU slope of the other stages (paper: 0.05).
        norm: ``"batch"`` (the paper) or ``"none"``.
        min_end: smallest remaining size per axis (mirrors the generator's ``min_start``).
        implementation: ``"fused"`` computes the last convolution, whose kernel covers the remaining grid, as one
            matrix product (exact); ``"plain"`` as a convolution. Same parameters and ``state_dict``.

    Example::

        >>> d = FODCritic(in_channels=28, spatial_shape=(32, 32, 16), channels=(8, 16, 32))
        >>> d(torch.randn(2, 28, 32, 32, 16)).shape
        torch.Size([2, 1])
    """

    def __init__(
        self,
        in_channels: int,
        spatial_shape: Sequence[int],
        channels: Sequence[int],
        out_features: int = 1,
        first_slope: float = 0.2,
        slope: float = 0.05,
        norm: str = "batch",
        min_end: int = 4,
        implementation: str = "fused",
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}.")
        if implementation not in ("fused", "plain"):
            raise ValueError(f"implementation must be 'fused' or 'plain', got {implementation!r}.")
        self.implementation = implementation
        self.spatial_shape = tuple(int(s) for s in spatial_shape)
        self.out_features = int(out_features)
        levels = len(channels)
        end = start_shape(self.spatial_shape, levels, min_end)
        # the paper's order: the short axis is halved in the first stages, the last stage keeps it (2, 2, 1)
        factors = stage_factors(self.spatial_shape, levels, min_end)
        layers: list[nn.Module] = []
        prev = in_channels
        for i, (ch, factor) in enumerate(zip(channels, factors)):
            kernel = tuple(4 if f == 2 else 3 for f in factor)
            layers.append(nn.Conv3d(prev, ch, kernel, stride=factor, padding=1))
            if i > 0 and norm == "batch":
                layers.append(nn.BatchNorm3d(ch))
            layers.append(nn.LeakyReLU(first_slope if i == 0 else slope))
            prev = ch
        layers.append(nn.Conv3d(prev, out_features, kernel_size=end, stride=1, padding=0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, X, Y, Z) -> (B, out_features)."""
        if torch.jit.is_scripting() or self.implementation == "plain":  # TorchScript gets the plain layers
            return self.net(x).reshape(x.shape[0], self.out_features)
        return self._fused(x)

    @torch.jit.unused
    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        *body, last = self.net
        for layer in body:
            x = layer(x)
        return full_grid_conv3d(x, last.weight, last.bias)


class FODEncoder(FODCritic):
    """The encoder E: the critic's architecture with a ``latent_size`` output, z_e = E(x), deterministic.

    Args:
        in_channels, spatial_shape, channels, first_slope, slope, norm, min_end, implementation: as
            :class:`FODCritic`.
        latent_size: length of the code (paper: 5000), the generator's ``latent_size``.
    """

    def __init__(
        self,
        in_channels: int,
        spatial_shape: Sequence[int],
        channels: Sequence[int],
        latent_size: int,
        first_slope: float = 0.2,
        slope: float = 0.05,
        norm: str = "batch",
        min_end: int = 4,
        implementation: str = "fused",
    ) -> None:
        super().__init__(in_channels, spatial_shape, channels, latent_size, first_slope, slope, norm, min_end,
                         implementation)
