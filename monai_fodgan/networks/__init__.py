"""The alpha-WGAN's four networks (Vellmer et al. 2025, Tables 1-4) and their presets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.networks.code_critic import CodeCritic
    from monai_fodgan.networks.critic import FODCritic, FODEncoder
    from monai_fodgan.networks.generator import FODGenerator
    from monai_fodgan.networks.presets import PRESETS, alpha_wgan_arguments, build_alpha_wgan

__all__ = ["FODGenerator", "FODCritic", "FODEncoder", "CodeCritic", "PRESETS", "alpha_wgan_arguments", "build_alpha_wgan"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.networks.code_critic": ["CodeCritic"],
    "monai_fodgan.networks.critic": ["FODCritic", "FODEncoder"],
    "monai_fodgan.networks.generator": ["FODGenerator"],
    "monai_fodgan.networks.presets": ["PRESETS", "alpha_wgan_arguments", "build_alpha_wgan"],
})
