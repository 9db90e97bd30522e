"""Exact, cheaper forms of the alpha-WGAN's layers: the same function of the same parameters.

The paper's generator upsamples by nearest neighbour and then convolves (3 x 3 x 3, zero padding 1). Per axis,
``u[j] = x[j // 2]`` followed by ``y[i] = w0 u[i-1] + w1 u[i] + w2 u[i+1]`` gives

    y[2m]     = w0 x[m-1] + (w1 + w2) x[m]
    y[2m + 1] = (w0 + w1) x[m] + w2 x[m+1],

which is a transposed convolution with stride 2, kernel 4 and padding 1 whose taps are
``(w2, w1 + w2, w0 + w1, w0)`` (PyTorch's ``conv_transpose`` puts input ``m`` at output ``2m + k - 1``). An
axis that is not upsampled (the paper's last stage, factors (2, 2, 1)) keeps its three taps, flipped, with
stride 1 and padding 1. In 3D the kernel is the outer product of the per-axis maps applied to the 3 x 3 x 3
weight: 8 instead of 27 multiply-adds per output voxel and channel pair (4 x 4 x 3 / 2^2 = 12 in the
(2, 2, 1) stage), and the upsampled tensor is never materialised. The kernel is derived from the stored
weight inside ``forward``, so ``state_dict`` names, shapes and checkpoints are unchanged and gradients flow
to the 3 x 3 x 3 weight.

Likewise a transposed convolution of a 1 x 1 x 1 code (the generator's head) and a convolution whose kernel
covers the whole remaining grid with no padding (the critic's and encoder's last layer) are matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["code_to_grid", "full_grid_conv3d", "upsample_conv3d", "upsample_conv_kernel"]

#: per-axis maps from the 3 conv taps (w0, w1, w2) to the transposed-convolution taps
_TAP_MAPS = {
    2: ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0)),  # (w2, w1 + w2, w0 + w1, w0)
    1: ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),  # (w2, w1, w0): the taps flipped
}


_TAP_CACHE: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}


def _tap_map(factor: int, like: torch.Tensor) -> torch.Tensor:
    """The (k, 3) tap map of ``factor`` on ``like``'s dtype and device, made once per device: a fresh
    ``torch.tensor`` on a GPU in every forward would be a synchronising host-to-device copy per stage."""
    if factor not in _TAP_MAPS:
        raise ValueError(f"upsampling factors must be 1 or 2 per axis, got {factor}.")
    if torch.compiler.is_compiling():  # a constant of the compiled graph
        return torch.tensor(_TAP_MAPS[factor], dtype=like.dtype, device=like.device)
    key = (factor, like.dtype, like.device)
    if key not in _TAP_CACHE:
        _TAP_CACHE[key] = torch.tensor(_TAP_MAPS[factor], dtype=like.dtype, device=like.device)
    return _TAP_CACHE[key]


def upsample_conv_kernel(weight: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    """Transposed-convolution kernel equal to nearest upsampling by ``factors`` then ``conv3d(weight, padding=1)``.

    Args:
        weight: Conv3d weight (out, in, 3, 3, 3).
        factors: upsampling factor (1 or 2) per spatial axis.

    Returns:
        ``conv_transpose3d`` weight (in, out, kx, ky, kz) with k = 4 where the factor is 2, else 3.
    """
    if weight.ndim != 5 or tuple(weight.shape[2:]) != (3, 3, 3):
        raise ValueError(f"expected a (out, in, 3, 3, 3) weight, got {tuple(weight.shape)}.")
    ax, ay, az = (_tap_map(int(f), weight) for f in factors)
    return torch.einsum("oixyz,ax,by,cz->ioabc", weight, ax, ay, az)


def upsample_conv3d(x: torch.Tensor, weight: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    """``conv3d(interpolate(x, scale_factor=factors, mode="nearest"), weight, padding=1)`` (no bias), computed
    as one transposed convolution.

    Args:
        x: (B, in, X, Y, Z).
        weight: (out, in, 3, 3, 3).
        factors: 1 or 2 per axis.

    Returns:
        (B, out, X * fx, Y * fy, Z * fz).
    """
    factors = tuple(int(f) for f in factors)
    # the taps are summed in the weight's precision (autocast would round the sums to bf16 first); the
    # convolution itself runs in whatever precision autocast chooses, like the plain form's
    device_type = weight.device.type
    if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            kernel = upsample_conv_kernel(weight, factors)
    else:
        kernel = upsample_conv_kernel(weight, factors)
    return F.conv_transpose3d(x, kernel, stride=factors, padding=1)


def code_to_grid(z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``conv_transpose3d(z, weight)`` for a 1 x 1 x 1 code (stride 1, no padding, no bias) as one matrix product.

    Args:
        z: (B, latent) or (B, latent, 1, 1, 1).
        weight: ConvTranspose3d weight (latent, out, kx, ky, kz).

    Returns:
        (B, out, kx, ky, kz).
    """
    flat = z.reshape(z.shape[0], weight.shape[0])
    return torch.matmul(flat, weight.reshape(weight.shape[0], -1)).reshape(z.shape[0], *weight.shape[1:])


def full_grid_conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``conv3d(x, weight, bias)`` when the kernel covers the whole grid (no padding): (B, out) by one matrix product.

    Args:
        x: (B, in, X, Y, Z) with (X, Y, Z) equal to the kernel size.
        weight: (out, in, X, Y, Z).
        bias: (out,) or None.
    """
    if tuple(x.shape[1:]) != tuple(weight.shape[1:]):
        raise ValueError(f"the kernel {tuple(weight.shape[1:])} must cover the input {tuple(x.shape[1:])} exactly.")
    return F.linear(x.reshape(x.shape[0], -1), weight.reshape(weight.shape[0], -1), bias)
