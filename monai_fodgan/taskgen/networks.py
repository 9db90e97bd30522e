"""DeepTaskGen's shallow 3D attention U-Net: K rest connectivity maps in, C task-contrast maps out.

The paper's network (Serin et al. 2025, Methods; the authors' code: ``max_depth=1``, ``n_conv_layers=1``,
``fdim=64``) is a U-Net with one encoder level between the input block and the bottleneck: features 64 at full
resolution, 128 after the first down-sampling, a 256-feature bottleneck after the second, one convolution
(3^3, BatchNorm, ReLU) per block, and additive attention gates (Oktay et al. 2018) on the skip connections.

This class reuses MONAI's attention-U-Net pieces (:class:`monai.networks.nets.attentionunet.AttentionBlock`,
the additive gate ``x * sigmoid(psi(relu(W_g g + W_x x)))``, and ``UpConv``, a transposed convolution with
BatchNorm + ReLU) but not ``AttentionUnet`` itself, whose blocks always hold two convolutions and down-sample by
strided convolution; here both are arguments (``convs_per_block``, ``downsample``), so the paper's network is a
set of arguments (:data:`PRESETS`), not a second class.

Grid sizes that are not multiples of the total stride (the paper's 76 x 93 x 78 with two halvings) are
zero-padded at the high end before the encoder and cropped back after the head: outside the brain the maps are
zero anyway, and the output has exactly the input's grid.

Parameter counts (printed by ``python -m monai_fodgan.taskgen.networks``): ``paper`` (K = 50, C = 47)
3,430,869; ``demo`` (K = 12, C = 6) 214,724; ``tiny`` (K = 12, C = 6) 14,570.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks.convolutions import Convolution
from monai.networks.layers.factories import Norm
from monai.networks.nets.attentionunet import AttentionBlock, UpConv
from torch import nn

__all__ = ["TaskAttentionUNet", "PRESETS", "task_network", "prepare_finetuning"]

#: Architecture presets. ``paper``: the published network (K = 50 group-ICA components, C = 47 HCP contrasts).
#: ``demo`` and ``tiny``: the same shape at CPU size, for the demo population (K = 12, C = 6).
PRESETS: dict[str, dict] = {
    "paper": {"in_channels": 50, "out_channels": 47, "channels": (64, 128, 256), "strides": (2, 2),
              "convs_per_block": 1, "downsample": "maxpool"},
    "demo": {"in_channels": 12, "out_channels": 6, "channels": (16, 32, 64), "strides": (2, 2),
             "convs_per_block": 1, "downsample": "maxpool"},
    "tiny": {"in_channels": 12, "out_channels": 6, "channels": (4, 8, 16), "strides": (2, 2),
             "convs_per_block": 1, "downsample": "maxpool"},
}
DOWNSAMPLING = ("maxpool", "stride")


def _conv_block(in_ch: int, out_ch: int, n: int, kernel_size: int, stride: int, dropout: float) -> nn.Sequential:
    """``n`` (conv, BatchNorm, ReLU) layers; the first one strided when ``stride`` > 1."""
    return nn.Sequential(*[
        Convolution(3, in_ch if i == 0 else out_ch, out_ch, strides=stride if i == 0 else 1, kernel_size=kernel_size,
                    adn_ordering="NDA", act="relu", norm=Norm.BATCH, dropout=dropout)
        for i in range(n)
    ])


class TaskAttentionUNet(nn.Module):
    """3D attention U-Net mapping (B, K, X, Y, Z) connectivity maps to (B, C, X, Y, Z) task-contrast maps.

    Args:
        in_channels: K, connectivity maps (group components) per subject.
        out_channels: C, task contrasts.
        channels: features per level, input block first, bottleneck last (paper: 64, 128, 256).
        strides: down-sampling factor into each level after the first (paper: 2, 2).
        convs_per_block: convolutions per encoder/decoder block (paper: 1; MONAI's ``AttentionUnet``: 2).
        downsample: ``"maxpool"`` (the authors' code) or ``"stride"`` (strided convolution, as MONAI's).
        kernel_size: convolution kernel size.
        up_kernel_size: transposed-convolution kernel size.
        dropout: dropout after each convolution.

    Example::

        net = TaskAttentionUNet(**PRESETS["paper"])      # 50 -> 47 maps
        y = net(torch.zeros(1, 50, 76, 93, 78))           # (1, 47, 76, 93, 78)
    """

    def __init__(self, in_channels: int, out_channels: int, channels: Sequence[int] = (64, 128, 256),
                 strides: Sequence[int] = (2, 2), convs_per_block: int = 1, downsample: str = "maxpool",
                 kernel_size: int = 3, up_kernel_size: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        if len(channels) < 2 or len(strides) != len(channels) - 1:
            raise ValueError(f"need >= 2 channels and len(strides) == len(channels) - 1, got {channels}, {strides}.")
        if downsample not in DOWNSAMPLING:
            raise ValueError(f"downsample must be one of {DOWNSAMPLING}, got {downsample!r}.")
        if convs_per_block < 1:
            raise ValueError(f"convs_per_block must be >= 1, got {convs_per_block}.")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.channels, self.strides = tuple(channels), tuple(strides)
        self.total_stride = int(torch.tensor(self.strides).prod())
        self.head = _conv_block(in_channels, channels[0], convs_per_block, kernel_size, 1, dropout)
        self.down = nn.ModuleList()
        for c_in, c_out, s in zip(channels[:-1], channels[1:], strides):
            if downsample == "maxpool":
                self.down.append(nn.Sequential(nn.MaxPool3d(s, s), _conv_block(c_in, c_out, convs_per_block,
                                                                                kernel_size, 1, dropout)))
            else:
                self.down.append(_conv_block(c_in, c_out, convs_per_block, kernel_size, s, dropout))
        # decoder, deepest level first: up-convolve, gate the skip with the up-sampled signal, merge
        self.up = nn.ModuleList()
        self.gate = nn.ModuleList()
        self.merge = nn.ModuleList()
        for c_skip, c_low, s in reversed(list(zip(channels[:-1], channels[1:], strides))):
            self.up.append(UpConv(3, c_low, c_skip, kernel_size=up_kernel_size, strides=s, dropout=dropout))
            self.gate.append(AttentionBlock(3, f_int=max(c_skip // 2, 1), f_g=c_skip, f_l=c_skip, dropout=dropout))
            self.merge.append(_conv_block(2 * c_skip, c_skip, convs_per_block, kernel_size, 1, dropout))
        self.out = nn.Conv3d(channels[0], out_channels, kernel_size=1)
        self.frozen_body = False  # set by prepare_finetuning: all but ``out`` frozen, BatchNorm in eval mode

    def train(self, mode: bool = True) -> TaskAttentionUNet:
        super().train(mode)
        if self.frozen_body and mode:
            for name, module in self.named_children():
                if name != "out":
                    module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        pad = [(-n) % self.total_stride for n in size]
        if any(pad):
            x = F.pad(x, [p for n in reversed(pad) for p in (0, n)])  # high end of each axis
        skips = [self.head(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up, gate, merge in zip(self.up, self.gate, self.merge):
            skip = skips.pop()
            y = up(y)
            y = merge(torch.cat((gate(g=y, x=skip), y), dim=1))
        y = self.out(y)
        return y[..., : size[0], : size[1], : size[2]]


def task_network(preset: str = "paper", **overrides) -> TaskAttentionUNet:
    """The network of a preset (``paper``, ``demo``, ``tiny``), any argument overridden (e.g. ``in_channels``)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}.")
    return TaskAttentionUNet(**{**PRESETS[preset], **overrides})


def prepare_finetuning(net: TaskAttentionUNet, out_channels: int | None = None) -> list[nn.Parameter]:
    """Set a trained network up for a new cohort: every layer frozen but the last (the 1 x 1 x 1 head).

    The paper fine-tunes to cohorts with fewer contrasts (HCP Development, UK Biobank: one shared contrast) by
    training only the last layer. With ``out_channels`` the head is replaced by a freshly initialised one with
    that many contrasts; without, the trained head is kept and fine-tuned. Frozen layers are also put in eval
    mode at every ``train()`` call, so their BatchNorm statistics stay those of the training cohort.

    Returns:
        the parameters to give the optimiser (the head's).
    """
    for p in net.parameters():
        p.requires_grad_(False)
    if out_channels is not None:
        net.out = nn.Conv3d(net.channels[0], out_channels, kernel_size=1).to(next(net.parameters()).device)
        net.out_channels = out_channels
    for p in net.out.parameters():
        p.requires_grad_(True)
    net.frozen_body = True
    return list(net.out.parameters())


if __name__ == "__main__":
    for name in PRESETS:
        net = task_network(name)
        print(f"{name}: {sum(p.numel() for p in net.parameters()):,} parameters")
