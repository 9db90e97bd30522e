"""The four alpha-WGAN networks: the paper preset's exact sizes, and shapes on other grids."""

from __future__ import annotations

import pytest
import torch

from monai_fodgan.networks import FODCritic, FODGenerator, alpha_wgan_arguments, build_alpha_wgan
from monai_fodgan.networks.layout import stage_factors

PAPER_COUNTS = {"generator": 1_207_763_600, "critic": 138_363_376, "encoder": 778_240_375, "code_critic": 37_285_889}


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_paper_preset_parameter_counts_on_meta_device() -> None:
    with torch.device("meta"):
        nets = build_alpha_wgan("paper", (128, 128, 64))
    assert {k: _count(n) for k, n in nets.items()} == PAPER_COUNTS


def test_paper_preset_shapes_on_meta_device() -> None:
    with torch.device("meta"):
        nets = build_alpha_wgan("paper", (128, 128, 64))
        x = torch.empty(2, 28, 128, 128, 64)
        assert nets["generator"](torch.empty(2, 5000)).shape == (2, 28, 128, 128, 64)
        assert nets["critic"](x).shape == (2, 1)
        assert nets["encoder"](x).shape == (2, 5000)
        assert nets["code_critic"](torch.empty(2, 5000)).shape == (2, 1)


def test_paper_layers_match_tables() -> None:
    with torch.device("meta"):
        nets = build_alpha_wgan("paper", (128, 128, 64))
    head = nets["generator"].head[0]
    assert (head.kernel_size, head.bias) == ((4, 4, 4), None)
    ups = [m.scale_factor for m in nets["generator"].body if isinstance(m, torch.nn.Upsample)]
    assert ups == [(2, 2, 2)] * 4 + [(2, 2, 1)]
    convs = [m for m in nets["critic"].net if isinstance(m, torch.nn.Conv3d)]
    assert [c.out_channels for c in convs] == [125, 250, 500, 1000, 2000, 1]
    assert (convs[4].kernel_size, convs[4].stride) == ((4, 4, 3), (2, 2, 1))
    assert (convs[5].kernel_size, convs[5].padding) == ((4, 4, 4), (0, 0, 0))
    slopes = [m.negative_slope for m in nets["critic"].net if isinstance(m, torch.nn.LeakyReLU)]
    assert slopes == [0.2, 0.05, 0.05, 0.05, 0.05]


@pytest.mark.parametrize("preset", ["small", "demo", "tiny"])
@pytest.mark.parametrize("shape", [(32, 32, 16), (16, 16, 8), (64, 32, 32)])
def test_small_presets_fit_other_grids(preset: str, shape: tuple[int, int, int]) -> None:
    nets = build_alpha_wgan(preset, shape, sh_channels=15)
    z = torch.randn(2, nets["generator"].latent_size)
    img = nets["generator"](z)
    assert img.shape == (2, 15, *shape)
    assert img.abs().max() <= 1.0  # tanh output
    assert nets["critic"](img).shape == (2, 1)
    assert nets["encoder"](img).shape == (2, nets["generator"].latent_size)


def test_stage_factors_of_paper_grid() -> None:
    assert stage_factors((128, 128, 64), 5) == [(2, 2, 2)] * 4 + [(2, 2, 1)]


@pytest.mark.parametrize("shape", [(30, 32, 16), (32, 32, 12)])
def test_unreachable_grid_is_rejected(shape: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="cannot be reached"):
        FODGenerator(16, 28, shape, channels=(8, 8, 8))


def test_unknown_preset_and_norm_rejected() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        alpha_wgan_arguments("huge", (32, 32, 16))
    with pytest.raises(ValueError, match="norm"):
        FODCritic(28, (32, 32, 16), (8, 16), norm="group")
