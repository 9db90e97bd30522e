"""Drawing synthetic FOD images from a trained generator: seeded codes, batched sampling, reconstruction
through the encoder, and latent interpolation. Images stay normalised here (the generator's range);
:mod:`monai_fodgan.inference.writing` de-normalises and writes them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["latent_codes", "sample_images", "encode", "reconstruct", "interpolate_codes", "bn_mode"]


def latent_codes(n: int, latent_size: int, seed: int = 0, start: int = 0) -> torch.Tensor:
    """(n, latent) codes z ~ N(0, I), code k drawn from its own generator seeded by (seed, start + k): the
    same subject index gives the same code whatever the batch size or the number drawn."""
    out = torch.empty(n, latent_size)
    for k in range(n):
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + start + k)
        out[k] = torch.randn(latent_size, generator=g)
    return out


class bn_mode:
    """Context: run ``net`` with BatchNorm in training mode (batch statistics, what the published code did
    when sampling) or eval mode (running statistics; the default, and independent of the batch)."""

    def __init__(self, net: nn.Module, train: bool = False) -> None:
        self.net, self.train = net, train

    def __enter__(self) -> nn.Module:
        self.was_training = self.net.training
        self.net.train(self.train)
        return self.net

    def __exit__(self, *exc: object) -> None:
        self.net.train(self.was_training)


@torch.no_grad()
def sample_images(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 4, train_mode_bn: bool = False,
                  device: str | torch.device | None = None, start: int = 0) -> torch.Tensor:
    """(n, C, X, Y, Z) normalised samples G(z) for codes :func:`latent_codes` ``(n, seed, start)``, in batches."""
    device = device if device is not None else next(generator.parameters()).device
    z = latent_codes(n, generator.latent_size, seed, start)
    out = []
    with bn_mode(generator, train_mode_bn):
        for chunk in z.split(batch_size):
            out.append(generator(chunk.to(device)).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = 4) -> torch.Tensor:
    """(N, C, X, Y, Z) normalised images -> (N, latent) codes z_e = E(x), BatchNorm in eval mode."""
    device = next(encoder.parameters()).device
    with bn_mode(encoder, False):
        return torch.cat([encoder(x.to(device)).float().cpu() for x in images.split(batch_size)])


@torch.no_grad()
def reconstruct(generator: nn.Module, encoder: nn.Module, images: torch.Tensor, batch_size: int = 4) -> torch.Tensor:
    """G(E(x)) of normalised images (N, C, X, Y, Z), both networks with BatchNorm in eval mode."""
    z = encode(encoder, images, batch_size)
    device = next(generator.parameters()).device
    with bn_mode(generator, False):
        return torch.cat([generator(c.to(device)).float().cpu() for c in z.split(batch_size)])


def interpolate_codes(z_a: torch.Tensor, z_b: torch.Tensor, steps: int | Sequence[float] = 5) -> torch.Tensor:
    """Codes on the straight line from ``z_a`` to ``z_b``: (S, latent) for ``steps`` evenly spaced weights
    (both ends included) or the given weights t (z = (1 - t) z_a + t z_b)."""
    t = torch.linspace(0, 1, steps) if isinstance(steps, int) else torch.as_tensor(steps, dtype=torch.float32)
    return (1 - t)[:, None] * z_a.reshape(1, -1) + t[:, None] * z_b.reshape(1, -1)
