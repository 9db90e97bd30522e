"""Loading trained weights and their metadata: from ``models/model.pt`` (or any training checkpoint) into
networks, and a whole bundle into a ready generator for use from other programs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_fodgan.engines.checkpoint import load_checkpoint
from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["TrainedModel", "load_bundle", "load_weights"]

_KEYS = {"generator": "model", "encoder": "encoder", "critic": "critic", "code_critic": "code_critic"}


@dataclass
class TrainedModel:
    """A generator with what is needed to turn its output into FOD files.

    Attributes:
        generator: the generator, weights loaded, in eval mode.
        encoder: the encoder (None when not requested).
        normalization: the SH statistics of training (de-normalise samples with it), or None.
        affine: (4, 4) voxel-to-world matrix of the training grid (float64), or None.
        spatial_shape: the training grid (X, Y, Z), or None.
        iteration: training iterations behind the weights.
    """

    generator: nn.Module
    encoder: nn.Module | None
    normalization: SHNormalization | None
    affine: torch.Tensor | None
    spatial_shape: tuple[int, ...] | None
    iteration: int


def load_weights(path: str | Path, generator: nn.Module, encoder: nn.Module | None = None,
                 map_location: str | torch.device = "cpu", **others: nn.Module) -> TrainedModel:
    """Load ``path`` (``model.pt`` or a training checkpoint) into the given networks.

    Args:
        path: the file (read with ``weights_only=True``).
        generator: receives the ``model`` weights.
        encoder: receives the ``encoder`` weights (when given).
        others: ``critic=`` / ``code_critic=`` networks (training checkpoints only).

    Raises:
        FileNotFoundError, ValueError: missing or unreadable file, or weights that do not fit (names the file).
    """
    ckpt = load_checkpoint(path, map_location=map_location)
    nets = {"generator": generator, "encoder": encoder, **others}
    for name, net in nets.items():
        if net is None:
            continue
        key = _KEYS[name]
        if key not in ckpt:
            raise ValueError(f"{path}: has no {key!r} weights (keys: {sorted(ckpt)}).")
        try:
            net.load_state_dict(ckpt[key])
        except RuntimeError as e:
            raise ValueError(f"{path}: the {name} weights do not fit this architecture: {e}") from None
        net.eval()
    if hasattr(generator, "set_output_rules"):  # the recipe's background and l = 0 rules it was trained with
        try:
            generator.set_output_rules(ckpt)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    norm = ckpt.get("normalization")
    grid = ckpt.get("grid")
    return TrainedModel(
        generator=generator, encoder=encoder,
        normalization=SHNormalization.from_dict(norm) if norm else None,
        affine=grid["affine"] if grid else None,
        spatial_shape=tuple(grid["spatial_shape"]) if grid else None,
        iteration=int(ckpt.get("trainer", {}).get("iteration", 0)),
    )


def load_bundle(bundle_root: str | Path, config_file: str | Path | None = None, model_file: str | Path | None = None,
                device: str | torch.device = "cpu", with_encoder: bool = True, **overrides: Any) -> TrainedModel:
    """A ready generator (and encoder) from a bundle folder, the way MONAI Label uses bundles.

    Args:
        bundle_root: the bundle folder (with ``configs/inference.json``).
        config_file: configs to parse (default ``configs/inference.json``; a list merges overrides).
        model_file: weights (default: the config's ``checkpoint_file``: the model training wrote to ``work_dir``;
            the shipped demo model is ``<bundle>/models/demo_model.pt``).
        device: where the networks go.
        overrides: config ids to override (e.g. ``preset="small"``, ``spatial_shape=[32, 32, 16]``).

    Example::

        >>> model = load_bundle("bundle", config_file=["bundle/configs/inference.json", "bundle/configs/demo.json"],
        ...                     model_file="bundle/models/demo_model.pt")
        >>> fod = model.normalization.denormalize(model.generator(torch.randn(1, 64)), channel_dim=1)
    """
    from monai.bundle import ConfigParser

    root = Path(bundle_root)
    files = config_file if config_file is not None else root / "configs" / "inference.json"
    parser = ConfigParser()
    parser.read_config([str(f) for f in files] if isinstance(files, (list, tuple)) else str(files))
    parser.update({"bundle_root": str(root), "device": str(device), **overrides})
    generator = parser.get_parsed_content("network_def").to(device)
    encoder = parser.get_parsed_content("encoder_def").to(device) if with_encoder else None
    path = model_file if model_file is not None else parser.get_parsed_content("checkpoint_file")
    return load_weights(path, generator, encoder, map_location=device)
