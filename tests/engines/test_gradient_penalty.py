"""The WGAN-GP penalty against hand-computed cases, and its behaviour under mixed precision."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_fodgan.engines import gradient_penalty


def test_linear_critic_penalty_is_norm_of_weights() -> None:
    # D(x) = w . x + b has gradient w everywhere: penalty (|w| - 1)^2 whatever the interpolation
    critic = nn.Linear(6, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0, 0.0, 0.0]]))  # |w| = 5
    real, fake = torch.randn(4, 6), torch.randn(4, 6)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(16.0)


def test_quadratic_critic_penalty_by_hand() -> None:
    # D(x) = 0.5 |x|^2: gradient x^ = a real + (1 - a) fake, penalty <(|x^| - 1)^2>
    critic = lambda x: 0.5 * (x.flatten(1) ** 2).sum(1, keepdim=True)  # noqa: E731
    real = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, -2.0]])
    alpha = torch.tensor([0.5, 0.25])
    # sample 1: x^ = (1.5, 2), |x^| = 2.5 -> 2.25; sample 2: x^ = (0, 0.5 - 1.5) = (0, -1), |x^| = 1 -> 0
    assert gradient_penalty(critic, real, fake, alpha=alpha).item() == pytest.approx((2.25 + 0.0) / 2)


def test_penalty_is_differentiable_wrt_critic_parameters() -> None:
    critic = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    gp = gradient_penalty(critic, torch.randn(3, 5), torch.randn(3, 5))
    gp.backward()
    # every weight shapes the input gradient; the output bias does not (its gradient stays None)
    for p in (critic[0].weight, critic[0].bias, critic[2].weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert critic[2].bias.grad is None


def test_loss_scale_cancels() -> None:
    # fp16 loss scaling: scaled output, unscaled gradient -> the same penalty
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake, alpha = torch.randn(3, 5), torch.randn(3, 5), torch.rand(3)
    plain = gradient_penalty(critic, real, fake, alpha=alpha)
    scaled = gradient_penalty(critic, real, fake, alpha=alpha, scale=65536.0)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-5)


def test_bf16_autocast_penalty_close_to_fp32() -> None:
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv3d(4, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 64, 1))
    real, fake, alpha = torch.randn(2, 4, 4, 4, 4), torch.randn(2, 4, 4, 4, 4), torch.rand(2)
    fp32 = gradient_penalty(critic, real, fake, alpha=alpha)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = gradient_penalty(critic, real, fake, alpha=alpha)
    assert bf16.dtype == torch.float32
    assert bf16.item() == pytest.approx(fp32.item(), rel=0.05)


def test_shape_mismatch_rejected() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(nn.Linear(4, 1), torch.randn(2, 4), torch.randn(3, 4))
