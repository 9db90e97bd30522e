"""Shapes and wiring of the task attention U-Net."""

from __future__ import annotations

import pytest
import torch

from monai_fodgan.taskgen.networks import PRESETS, TaskAttentionUNet, prepare_finetuning, task_network


@pytest.mark.parametrize("shape", [(8, 8, 8), (13, 15, 11)])
@pytest.mark.parametrize("downsample", ["maxpool", "stride"])
def test_output_keeps_the_grid(shape, downsample):
    net = task_network("tiny", downsample=downsample).eval()
    with torch.no_grad():
        y = net(torch.randn(2, 12, *shape))
    assert y.shape == (2, 6, *shape)


def test_paper_preset_structure():
    net = task_network("paper")
    assert (net.in_channels, net.out_channels, net.channels) == (50, 47, (64, 128, 256))
    convs = [m for m in net.head.modules() if isinstance(m, torch.nn.Conv3d)]
    assert len(convs) == 1  # one convolution per block
    assert sum(p.numel() for p in net.parameters()) == 3_430_869  # as stated in the module docstring
    assert len(net.gate) == 2  # an attention gate on each skip connection


def test_two_convs_per_block_and_deeper_network():
    net = TaskAttentionUNet(3, 2, channels=(4, 8, 8, 16), strides=(2, 2, 2), convs_per_block=2).eval()
    assert sum(isinstance(m, torch.nn.Conv3d) for m in net.head.modules()) == 2
    with torch.no_grad():
        assert net(torch.randn(1, 3, 17, 9, 8)).shape == (1, 2, 17, 9, 8)


def test_gradients_reach_the_input_block():
    net = task_network("tiny")
    net(torch.randn(2, 12, 8, 8, 8)).square().mean().backward()
    assert net.head[0].conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [{"channels": (4,), "strides": ()}, {"strides": (2,)}, {"downsample": "avg"},
                                    {"convs_per_block": 0}])
def test_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        TaskAttentionUNet(**{**PRESETS["tiny"], **kwargs})


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        task_network("huge")


@pytest.mark.parametrize("new_contrasts", [None, 1])
def test_finetuning_trains_only_the_head(new_contrasts):
    net = task_network("tiny")
    params = prepare_finetuning(net, new_contrasts)
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable == ["out.weight", "out.bias"] and len(params) == 2
    net.train()
    assert not net.head[0].adn.N.training and net.out.training  # frozen BatchNorm keeps the cohort's statistics
    before = net.head[0].adn.N.running_mean.clone()
    y = net(torch.randn(2, 12, 8, 8, 8))
    assert y.shape[1] == (new_contrasts or 6)
    y.square().mean().backward()
    assert torch.equal(before, net.head[0].adn.N.running_mean)
    assert net.out.weight.grad is not None
