"""The alpha-WGAN generator G: latent code (B, latent) -> SH image (B, C, X, Y, Z) in [-1, 1]."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from monai_fodgan.networks.exact_forms import code_to_grid, upsample_conv3d
from monai_fodgan.networks.layout import stage_factors, start_shape
from monai_fodgan.networks.strict_loading import StrictLoadMixin

__all__ = ["IMPLEMENTATIONS", "L0_OUTPUTS", "OUTPUT_RULE_KEYS", "FODGenerator"]

#: how the layers are computed: the exact cheaper forms (:mod:`monai_fodgan.networks.exact_forms`) or layer by
#: layer as the published code does; both give the same function of the same parameters.
IMPLEMENTATIONS = ("fused", "plain")
#: How the l = 0 channel leaves the generator: ``tanh`` as every channel (the paper); ``nonnegative`` takes its
#: absolute value, since the l = 0 coefficient is proportional to the FOD's integral (total fibre density) and is
#: never negative in real data.
L0_OUTPUTS = ("tanh", "nonnegative")
#: The keys under which a weights file (checkpoint, ``models/model.pt``) stores the recipe's output rules, which are
#: not in the state_dict: ``brain_mask`` ((X, Y, Z) bool, or None for no mask) and ``l0_output``.
OUTPUT_RULE_KEYS = ("brain_mask", "l0_output")


class FODGenerator(StrictLoadMixin, nn.Module):
    """Latent vector to a normalised SH image (paper Table 1).

    A transposed convolution turns the code into a ``start_shape`` grid with ``channels[0]`` features
    (no bias, BatchNorm, LeakyReLU ``first_slope``); then, per stage, nearest-neighbour upsampling by the
    stage's factors and a 3 x 3 x 3 convolution (no bias) with BatchNorm and ReLU, ``channels[i] ->
    channels[i + 1]``; the last stage convolves to ``out_channels`` SH coefficients and applies tanh. The recipe
    can mask the output (:meth:`set_output_mask`) and keep its l = 0 channel non-negative (:meth:`set_l0_output`).

    Args:
        latent_size: length of the latent code (paper: 5000).
        out_channels: SH coefficients per voxel (28 for lmax 6).
        spatial_shape: output grid (X, Y, Z) (paper: 128 x 128 x 64).
        channels: features per stage, from coarse to fine (paper: 3200, 1600, 800, 400, 200); its length is the
            number of upsampling stages.
        first_slope: LeakyReLU slope after the transposed convolution (paper: 0.1).
        min_start: smallest start size per axis (paper: 4, so the 64-voxel axis doubles one time fewer).
        implementation: ``"fused"`` computes each upsample + convolution as one transposed convolution and the
            head as a matrix product (exact, 3-4x fewer multiply-adds, no upsampled tensor); ``"plain"`` runs
            the layers one by one. Parameters and ``state_dict`` are the same in both.
        checkpoint_stages: recompute each stage's activations in the backward pass instead of storing them
            (activation checkpointing: less memory, one more forward per stage); BatchNorm running statistics
            are updated once, as without it.
        fp32_last_layer: run the last convolution and tanh in float32 under autocast (the L1 term, weighted
            50,000 in the paper, sees the output's rounding).

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
        implementation: str = "fused",
        checkpoint_stages: bool = False,
        fp32_last_layer: bool = False,
    ) -> None:
        super().__init__()
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}.")
        self.latent_size = int(latent_size)
        self.out_channels = int(out_channels)
        self.spatial_shape = tuple(int(s) for s in spatial_shape)
        self.implementation = implementation
        self.checkpoint_stages = bool(checkpoint_stages)
        self.fp32_last_layer = bool(fp32_last_layer)
        levels = len(channels)
        start = start_shape(self.spatial_shape, levels, min_start)
        self.factors = stage_factors(self.spatial_shape, levels, min_start)
        self.head = nn.Sequential(
            nn.ConvTranspose3d(latent_size, channels[0], kernel_size=start, stride=1, padding=0, bias=False),
            nn.BatchNorm3d(channels[0]),
            nn.LeakyReLU(first_slope),
        )
        stages: list[nn.Module] = []
        for i, factor in enumerate(self.factors):
            last = i == levels - 1
            out = out_channels if last else channels[i + 1]
            stages += [nn.Upsample(scale_factor=factor, mode="nearest"), nn.Conv3d(channels[i], out, 3, 1, 1, bias=False)]
            stages += [nn.Tanh()] if last else [nn.BatchNorm3d(out), nn.ReLU()]
        # one flat Sequential, as before: state_dict names (body.1.weight, body.2.running_mean, ...) stay those
        # of every checkpoint written so far
        self.body = nn.Sequential(*stages)
        # the recipe's background rule (monai_fodgan.data.recipe, "population_mask"): 1 inside the training
        # population's brain, 0 outside, so synthetic subjects have the exact zero background of prepared images;
        # all ones = no mask. Not in the state_dict: model.pt stores it as "brain_mask" (set_output_mask).
        self.register_buffer("output_mask", torch.ones((1, 1) + self.spatial_shape), persistent=False)
        # the recipe's l = 0 rule (L0_OUTPUTS); like the mask, not in the state_dict: model.pt stores "l0_output"
        self.l0_output = "tanh"

    def set_l0_output(self, mode: str | None) -> FODGenerator:
        """How the l = 0 channel is output (:data:`L0_OUTPUTS`; None: ``tanh``, the paper's)."""
        mode = "tanh" if mode is None else str(mode)
        if mode not in L0_OUTPUTS:
            raise ValueError(f"l0_output must be one of {L0_OUTPUTS}, got {mode!r}.")
        self.l0_output = mode
        return self

    def extra_repr(self) -> str:
        # in repr (hence in a checkpoint's config hash) only when not the paper's, so older hashes stay valid
        return "" if self.l0_output == "tanh" else f"l0_output={self.l0_output!r}"

    def set_output_mask(self, mask: torch.Tensor | None) -> FODGenerator:
        """Multiply every output by ``mask`` ((X, Y, Z) bool/0-1, the training grid), or by 1 again for None."""
        if mask is None:
            m = torch.ones((1, 1) + self.spatial_shape)
        else:
            m = torch.as_tensor(mask)
            if tuple(m.shape) != self.spatial_shape:
                raise ValueError(f"output mask shape {tuple(m.shape)} differs from the generator's grid {self.spatial_shape}.")
            m = (m != 0).float().reshape((1, 1) + self.spatial_shape)
        self.output_mask = m.to(device=self.output_mask.device)
        return self

    @property
    def has_output_mask(self) -> bool:
        """Whether an output mask other than all ones is set."""
        return not bool(torch.all(self.output_mask == 1))

    def output_rules(self) -> dict[str, Any]:
        """The recipe's output rules as a weights file stores them (:data:`OUTPUT_RULE_KEYS`)."""
        mask = self.output_mask[0, 0].bool().cpu() if self.has_output_mask else None
        return {"brain_mask": mask, "l0_output": self.l0_output}

    def set_output_rules(self, stored: Mapping[str, Any]) -> FODGenerator:
        """Apply the output rules a weights file stores; absent keys mean the paper's (no mask, tanh).

        Raises:
            ValueError: the stored mask does not fit this generator's grid, or ``l0_output`` is unknown.
        """
        try:
            self.set_output_mask(stored.get("brain_mask"))
        except ValueError as e:
            raise ValueError(f"brain_mask does not fit the generator: {e}") from None
        return self.set_l0_output(stored.get("l0_output"))

    def _stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``i``: upsample + conv, then BatchNorm + ReLU (or tanh for the last stage)."""
        up, conv, *rest = self.body[4 * i: 4 * i + 4]
        if self.implementation == "fused":
            x = upsample_conv3d(x, conv.weight, self.factors[i])
        else:
            x = conv(up(x))
        for layer in rest:
            x = layer(x)
        return x

    def _last_stage(self, x: torch.Tensor) -> torch.Tensor:
        i = len(self.factors) - 1
        if not (self.fp32_last_layer and torch.is_autocast_enabled(x.device.type)):
            return self._stage(i, x)
        with torch.autocast(x.device.type, enabled=False):
            return self._stage(i, x.float())

    def _checkpointed(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``i`` under activation checkpointing; its recomputation leaves BatchNorm statistics untouched."""
        calls = [0]

        def run(inp: torch.Tensor) -> torch.Tensor:
            calls[0] += 1
            if calls[0] == 1:
                return self._stage(i, inp)
            with _batchnorm_statistics_kept(self.body[4 * i: 4 * i + 4]):
                return self._stage(i, inp)

        return checkpoint(run, x, use_reentrant=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) or (B, latent, 1, 1, 1) codes -> (B, out_channels, X, Y, Z) images in [-1, 1]."""
        z = z.reshape(z.shape[0], self.latent_size, 1, 1, 1)
        if torch.jit.is_scripting():  # TorchScript (MONAI's ckpt_export) gets the plain layers: the same function
            out = self.body(self.head(z)) * self.output_mask
        else:
            out = self._forward(z)
            out = out * self.output_mask.to(out.dtype)  # 0/1: exact in every precision, and keeps the output's dtype
        if self.l0_output == "nonnegative":
            out = torch.cat([out[:, :1].abs(), out[:, 1:]], dim=1)
        return out

    @torch.jit.unused
    def _forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.implementation == "fused":
            x = code_to_grid(z, self.head[0].weight)
            x = self.head[2](self.head[1](x))
        else:
            x = self.head(z)
        last = len(self.factors) - 1
        for i in range(last):
            checkpointed = self.checkpoint_stages and self.training and torch.is_grad_enabled()
            x = self._checkpointed(i, x) if checkpointed else self._stage(i, x)
        return self._last_stage(x)


@contextmanager
def _batchnorm_statistics_kept(module: nn.Module) -> Iterator[None]:
    """Restore every BatchNorm buffer of ``module`` on exit (a recomputed forward must not count twice)."""
    saved = [(b, b.detach().clone()) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             for b in m.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
