"""The network a DeepTaskGen training run starts from: fresh, continued from a checkpoint, or fine-tuned.

Fine-tuning (Serin et al. 2025: HCP Development and UK Biobank, cohorts with one contrast shared with HCP) keeps
the trained network and trains only its last layer, the 1 x 1 x 1 convolution to the contrasts
(:func:`~monai_fodgan.taskgen.networks.prepare_finetuning`). :func:`finetuning_network` rebuilds the network
from the checkpoint's own preset and channel counts (written by :func:`~monai_fodgan.taskgen.save_checkpoint`),
then either keeps its head (same contrasts) or replaces it with ``out_channels`` contrasts; ``contrasts`` names,
for each new contrast, the old contrast it is the same task as (e.g. the one shared contrast): the new head starts
from those rows of the old one instead of a random initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from monai_fodgan.taskgen.inference import load_network_weights
from monai_fodgan.taskgen.networks import (
    TaskAttentionUNet,
    prepare_finetuning,
    task_network,
)

__all__ = ["checkpoint_meta", "finetuning_network", "training_network"]


def checkpoint_meta(path: str | Path) -> dict:
    """The checkpoint at ``path`` as written by the training run: ``{"model", "preset", "in_channels", "out_channels"}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to start from (give init_checkpoint).")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not {"model", "preset", "in_channels", "out_channels"} <= set(state):
        raise ValueError(f"{path}: not a DeepTaskGen checkpoint with its preset and channels (written by the "
                         "taskgen bundle's training run).")
    return state


def training_network(network: nn.Module, device: str | torch.device, init_checkpoint: str | Path | None = None) -> nn.Module:
    """``network`` on ``device``, with the weights of ``init_checkpoint`` when given (continue a trained model)."""
    network = network.to(device)
    return network if not init_checkpoint else load_network_weights(network, init_checkpoint, device)


def finetuning_network(checkpoint: str | Path, out_channels: int, contrasts: Sequence[int] | None = None,
                       device: str | torch.device = "cpu", in_channels: int | None = None) -> TaskAttentionUNet:
    """The trained network of ``checkpoint`` with every layer frozen but the last (see the module docstring).

    Args:
        checkpoint: a model written by the bundle's training run (its preset and channels are read from it).
        out_channels: contrasts of the new cohort; the head is replaced when they differ from the checkpoint's
            or when ``contrasts`` is given.
        contrasts: for each new contrast, the index of the same contrast in the checkpoint's outputs (its head row
            initialises the new one); None: a fresh head (or the kept one).
        device: where the network goes.
        in_channels: the new cohort's K, checked against the checkpoint's (None: not checked).

    Raises:
        ValueError: K differs from the checkpoint's, or ``contrasts`` does not fit.
    """
    path = Path(checkpoint)
    state = checkpoint_meta(path)
    if in_channels is not None and int(in_channels) != int(state["in_channels"]):
        raise ValueError(f"{path}: the model takes K = {state['in_channels']} connectivity maps, the new cohort has "
                         f"{in_channels}; prepare it with the same group components.")
    net = task_network(str(state["preset"]), in_channels=int(state["in_channels"]), out_channels=int(state["out_channels"]))
    net.load_state_dict(state["model"])
    old_weight, old_bias = net.out.weight.detach().clone(), net.out.bias.detach().clone()
    if contrasts is not None:
        contrasts = [int(c) for c in contrasts]
        if len(contrasts) != out_channels or not all(0 <= c < old_weight.shape[0] for c in contrasts):
            raise ValueError(f"contrasts must give, for each of the {out_channels} new contrasts, an index of the "
                             f"model's {old_weight.shape[0]} contrasts; got {contrasts}.")
    replace = contrasts is not None or int(out_channels) != int(state["out_channels"])
    prepare_finetuning(net, int(out_channels) if replace else None)
    if contrasts is not None:
        with torch.no_grad():
            net.out.weight.copy_(old_weight[contrasts])
            net.out.bias.copy_(old_bias[contrasts])
    return net.to(device)
