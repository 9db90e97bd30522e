"""Drawing synthetic FOD images from a trained generator: seeded codes, batched sampling, reconstruction
through the encoder, and latent interpolation. Images stay normalised here (the generator's range);
:mod:`monai_fodgan.inference.writing` de-normalises and writes them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["latent_codes", "generate", "sample_images", "encode", "reconstruct", "interpolate_codes", "bn_mode", "standing_statistics",
           "BN_MODES"]

#: how the generator's BatchNorm layers normalise when sampling (see :func:`sample_images`)
BN_MODES = ("standing", "running", "batch")


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


class standing_statistics:
    """Context: the generator in eval mode with "standing" BatchNorm statistics (Brock et al. 2019, BigGAN):
    running means and variances recomputed as plain averages over ``n`` prior samples G(z_r), z_r ~ N(0, I),
    in batches of ``batch_size``; the trained statistics are restored on exit.

    Why: during alpha-WGAN training the generator sees codes z_r from the prior and codes z_e = E(x) from the
    encoder in separate batches, and always normalises with the batch's own statistics. Its running statistics
    average both kinds of batches; while E's codes differ from the prior they do not describe either (at 500
    iterations of the demo model the first layer's running variance was 8 x that of prior batches, and eval-mode
    samples were near zero). Standing statistics describe exactly the batches sampling will feed.
    """

    def __init__(self, generator: nn.Module, n: int = 64, batch_size: int = 8, seed: int = 987_654,
                 codes: torch.Tensor | None = None) -> None:
        self.generator, self.n, self.batch_size, self.seed = generator, int(n), int(batch_size), int(seed)
        self.codes = codes  # statistics of these codes instead of prior samples (e.g. encoder codes)

    def __enter__(self) -> nn.Module:
        g = self.generator
        self.was_training = g.training
        self.layers = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(), m.momentum)
                      for m in self.layers]
        for m in self.layers:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        device = next(g.parameters()).device
        g.train()
        with torch.no_grad():
            codes = self.codes if self.codes is not None else latent_codes(self.n, g.latent_size, self.seed)
            for z in codes.split(self.batch_size):
                g(z.to(device))
        g.eval()
        return g

    def __exit__(self, *exc: object) -> None:
        for m, (mean, var, count, momentum) in zip(self.layers, self.saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)
            m.momentum = momentum
        self.generator.train(self.was_training)


def _bn_context(generator: nn.Module, bn: str, codes: torch.Tensor | None = None):
    if bn not in BN_MODES:
        raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}.")
    if bn == "standing":  # a fixed batch size: the statistics must not depend on how the caller batches
        return standing_statistics(generator, codes=codes)
    return bn_mode(generator, train=bn == "batch")


@torch.no_grad()
def sample_images(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 4, bn: str = "standing",
                  device: str | torch.device | None = None, start: int = 0) -> torch.Tensor:
    """(n, C, X, Y, Z) normalised samples G(z) for codes :func:`latent_codes` ``(n, seed, start)``, in batches.

    Args:
        bn: BatchNorm during sampling: ``"standing"`` (eval mode with statistics of prior samples, see
            :class:`standing_statistics`; the default), ``"running"`` (eval mode with the statistics kept during
            training) or ``"batch"`` (training mode: each batch normalised by itself, as the published code
            sampled; a sample then depends on the others in its batch).
    """
    return generate(generator, latent_codes(n, generator.latent_size, seed, start), batch_size, bn, device)


@torch.no_grad()
def generate(generator: nn.Module, codes: torch.Tensor, batch_size: int = 4, bn: str = "standing",
             device: str | torch.device | None = None) -> torch.Tensor:
    """(N, C, X, Y, Z) normalised images G(z) of given codes (N, latent), in batches; ``bn`` as in
    :func:`sample_images` (which is this function on :func:`latent_codes`).

    Raises:
        ValueError: codes that are not (N, latent) with the generator's latent size, or not finite.
    """
    codes = torch.as_tensor(codes, dtype=torch.float32)
    if codes.ndim != 2 or codes.shape[1] != generator.latent_size or codes.shape[0] < 1:
        raise ValueError(f"codes must have shape (N, {generator.latent_size}) for this generator, got {tuple(codes.shape)}.")
    if not torch.isfinite(codes).all():
        raise ValueError("codes must be finite (found NaN or infinite values).")
    device = device if device is not None else next(generator.parameters()).device
    out = []
    with _bn_context(generator, bn):
        for chunk in codes.split(batch_size):
            out.append(generator(chunk.to(device)).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = 4) -> torch.Tensor:
    """(N, C, X, Y, Z) normalised images -> (N, latent) codes z_e = E(x), BatchNorm in eval mode."""
    device = next(encoder.parameters()).device
    with bn_mode(encoder, False):
        return torch.cat([encoder(x.to(device)).float().cpu() for x in images.split(batch_size)])


@torch.no_grad()
def reconstruct(generator: nn.Module, encoder: nn.Module, images: torch.Tensor, batch_size: int = 4,
                bn: str = "standing") -> torch.Tensor:
    """G(E(x)) of normalised images (N, C, X, Y, Z); the encoder in eval mode, the generator as ``bn`` says
    (see :func:`sample_images`). ``"standing"`` statistics are those of prior samples, as for sampling, the bundle's
    ``reconstruct``/``interpolate`` modes and the exports: one fixed generator for every path, so a
    reconstruction does not depend on which other images are reconstructed with it."""
    z = encode(encoder, images, batch_size)
    device = next(generator.parameters()).device
    with _bn_context(generator, bn):
        return torch.cat([generator(c.to(device)).float().cpu() for c in z.split(batch_size)])


def interpolate_codes(z_a: torch.Tensor, z_b: torch.Tensor, steps: int | Sequence[float] = 5) -> torch.Tensor:
    """Codes on the straight line from ``z_a`` to ``z_b``: (S, latent) for ``steps`` evenly spaced weights
    (both ends included) or the given weights t (z = (1 - t) z_a + t z_b)."""
    t = torch.linspace(0, 1, steps) if isinstance(steps, int) else torch.as_tensor(steps, dtype=torch.float32)
    return (1 - t)[:, None] * z_a.reshape(1, -1) + t[:, None] * z_b.reshape(1, -1)
