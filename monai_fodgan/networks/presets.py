"""Named sets of constructor arguments for the four alpha-WGAN networks.

``paper`` is Tables 1-4 of Vellmer et al. 2025 (latent 5000, 128 x 128 x 64 x 28: G 1,207,763,600,
D 138,363,376, E 778,240,375, CD 37,285,889 parameters). The smaller presets keep the architecture and
shrink widths and the latent size for CPU demos and tests; all derive their stages from the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from monai_fodgan.networks.code_critic import CodeCritic
from monai_fodgan.networks.critic import FODCritic, FODEncoder
from monai_fodgan.networks.generator import FODGenerator

__all__ = ["PRESETS", "alpha_wgan_arguments", "build_alpha_wgan"]

#: widths per preset: latent size, generator stages (coarse to fine), critic/encoder stages, code-critic hidden.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"latent": 5000, "generator": (3200, 1600, 800, 400, 200), "critic": (125, 250, 500, 1000, 2000),
              "code_critic": (4096, 4096)},
    "small": {"latent": 128, "generator": (128, 64, 32), "critic": (32, 64, 128), "code_critic": (256, 256)},
    "demo": {"latent": 64, "generator": (64, 32, 16), "critic": (16, 32, 64), "code_critic": (128, 128)},
    "tiny": {"latent": 16, "generator": (16, 8), "critic": (8, 16), "code_critic": (32, 32)},
}


def alpha_wgan_arguments(preset: str, spatial_shape: Sequence[int], sh_channels: int = 28, implementation: str = "fused",
                         checkpoint_stages: bool = False, fp32_last_layer: bool = False) -> dict[str, dict[str, Any]]:
    """Constructor arguments of G, D, E and CD for ``preset`` on a grid (what a bundle config writes out).

    ``implementation``, ``checkpoint_stages`` and ``fp32_last_layer`` choose how the same function is computed
    (see :class:`FODGenerator`); they change neither the parameters nor the ``state_dict``.

    Returns:
        ``{"generator": {...}, "critic": {...}, "encoder": {...}, "code_critic": {...}}``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
    p = PRESETS[preset]
    shape = tuple(int(s) for s in spatial_shape)
    return {
        "generator": {"latent_size": p["latent"], "out_channels": sh_channels, "spatial_shape": shape, "channels": p["generator"],
                      "implementation": implementation, "checkpoint_stages": checkpoint_stages,
                      "fp32_last_layer": fp32_last_layer},
        "critic": {"in_channels": sh_channels, "spatial_shape": shape, "channels": p["critic"], "implementation": implementation},
        "encoder": {"in_channels": sh_channels, "spatial_shape": shape, "channels": p["critic"], "latent_size": p["latent"],
                    "implementation": implementation},
        "code_critic": {"latent_size": p["latent"], "hidden": p["code_critic"]},
    }


def build_alpha_wgan(preset: str, spatial_shape: Sequence[int], sh_channels: int = 28, **options: Any) -> dict[str, nn.Module]:
    """The four networks of ``preset``: ``{"generator", "critic", "encoder", "code_critic"}``.

    Build under ``torch.device("meta")`` to count the paper preset's parameters without allocating them.
    ``options`` are :func:`alpha_wgan_arguments`'s computation choices (``implementation`` etc.).
    """
    args = alpha_wgan_arguments(preset, spatial_shape, sh_channels, **options)
    return {
        "generator": FODGenerator(**args["generator"]),
        "critic": FODCritic(**args["critic"]),
        "encoder": FODEncoder(**args["encoder"]),
        "code_critic": CodeCritic(**args["code_critic"]),
    }
