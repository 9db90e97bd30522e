"""Wasserstein losses of the alpha-WGAN (Vellmer et al. 2025, Eq. 1-3) and the gradient penalty.

Sign convention: critics give HIGH values to real data (images x, prior codes z_r ~ N(0, I)) and low
values to generated data; every loss here is minimised.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["gradient_penalty"]


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    alpha: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``<(||grad_x critic(x^)||_2 - 1)^2>`` at ``x^ = a real + (1 - a) fake``.

    The interpolation, the gradient and its norm are computed in float32 whatever autocast does inside the
    critic, so the penalty stays right under bf16/fp16 mixed precision. Under fp16 loss scaling pass the
    scaler's current ``scale``: the critic output is scaled before differentiation (small gradients would
    underflow in fp16 otherwise) and the gradient unscaled before its norm. Gradients are taken with respect
    to the input only, so DistributedDataParallel's parameter hooks are not involved until the final backward.

    Args:
        critic: the critic (or code critic), returning (B, 1).
        real, fake: (B, ...) batches of the same shape; ``fake`` is treated as a constant.
        alpha: (B,) mixing weights; default uniform in [0, 1) per sample from the global RNG.
        scale: fp16 loss scale (None: no scaling).

    Returns:
        scalar float32 tensor, differentiable with respect to the critic's parameters (create_graph).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} batches differ in shape.")
    b = real.shape[0]
    if alpha is None:
        alpha = torch.rand(b, device=real.device, dtype=torch.float32)
    a = alpha.to(device=real.device, dtype=torch.float32).reshape((b,) + (1,) * (real.ndim - 1))
    x_hat = (a * real.detach().float() + (1 - a) * fake.detach().float()).requires_grad_(True)
    out = critic(x_hat).float().sum()
    if scale is not None:
        out = out * scale
    (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
    if scale is not None:
        grad = grad / scale
    norm = grad.float().flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()
