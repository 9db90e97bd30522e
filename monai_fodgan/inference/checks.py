"""Does a weights file fit the networks a config is about to build? Answered from shapes alone, before building.

Why: ``inference.json`` builds the paper's 1.2-billion-parameter generator by default, which takes minutes on a
CPU; with weights of another preset (the shipped demo model, ``bundle/models/demo_model.pt``) the load then fails with a
wall of size-mismatch lines. Here the file's tensor shapes are compared with those of the same networks built on
PyTorch's ``meta`` device (no memory, no time), and a mismatch becomes one sentence that names the config to add.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from monai_fodgan.networks.generator import FODGenerator
from monai_fodgan.networks.presets import PRESETS, alpha_wgan_arguments

__all__ = ["WeightsMismatchError", "check_weights", "weight_shapes"]

#: preset -> the override config that selects it (shipped in bundle/configs/)
PRESET_CONFIGS = {"demo": "configs/demo.json"}
#: grid -> the override config, added after the preset's, that selects it (the shipped 3 mm demo model's grid)
GRID_CONFIGS = {(56, 64, 56): "configs/demo_3mm.json"}


class WeightsMismatchError(ValueError):
    """A weights file that does not fit the config's networks (or does not exist)."""


def weight_shapes(generator_args: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter and buffer shapes of the generator ``FODGenerator(**generator_args)``, built on the meta device."""
    with torch.device("meta"):
        net = FODGenerator(**generator_args)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _describe(preset: str | None, shape: Sequence[int] | None, latent: object) -> str:
    grid = " x ".join(str(int(s)) for s in shape) if shape else "an unknown grid"
    name = f"preset {preset!r}" if preset else "an unknown architecture"
    return f"{name} on {grid} (latent {latent})"


def _identify(stored: Mapping[str, tuple[int, ...]], shape: Sequence[int] | None, channels: int) -> str | None:
    """The preset whose generator has exactly the stored shapes on the stored grid, if any."""
    if not shape:
        return None
    for name in PRESETS:
        try:
            if weight_shapes(alpha_wgan_arguments(name, shape, channels)["generator"]) == dict(stored):
                return name
        except (ValueError, RuntimeError):
            continue
    return None


def check_weights(checkpoint_file: str | Path, network_args: Mapping[str, Mapping[str, Any]], preset: str,
                  spatial_shape: Sequence[int], exit_on_error: bool = False) -> None:
    """Check that ``checkpoint_file``'s generator fits ``network_args["generator"]`` before anything is built.

    Args:
        checkpoint_file: ``model.pt`` or a training checkpoint (read with ``torch.load(weights_only=True)``).
        network_args: the config's ``network_args`` (see :func:`~monai_fodgan.networks.alpha_wgan_arguments`).
        preset, spatial_shape: the config's values, for the message.
        exit_on_error: raise ``SystemExit`` with the one-line message instead (the bundle CLI: no traceback).

    Raises:
        WeightsMismatchError: the file is missing, or its generator has other shapes; the message says which preset
            and grid the file holds and which config to add.

    Example::

        check_weights("bundle/models/demo_model.pt", alpha_wgan_arguments("demo", (32, 32, 16)), "demo", (32, 32, 16))
    """
    try:
        _check(Path(checkpoint_file), network_args, preset, spatial_shape)
    except WeightsMismatchError as err:
        if exit_on_error:
            raise SystemExit(f"error: {err}") from None
        raise


def _check(path: Path, network_args: Mapping[str, Mapping[str, Any]], preset: str, spatial_shape: Sequence[int]) -> None:
    if not path.is_file():
        raise WeightsMismatchError(
            f"no weights at {path}: train first (python -m monai.bundle run training ...), or pass --checkpoint_file "
            "(the shipped demo models are bundle/models/demo_model.pt, used with configs/demo.json, and "
            "bundle/models/demo_3mm_model.pt, used with configs/demo.json and configs/demo_3mm.json).")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "model" not in state:
        raise WeightsMismatchError(f"{path}: no generator weights (key 'model'); keys: {sorted(state)}.")
    stored = {k: tuple(v.shape) for k, v in state["model"].items()}
    expected = weight_shapes(network_args["generator"])
    if stored == expected:
        return
    grid = (state.get("grid") or {}).get("spatial_shape")
    channels = int(network_args["generator"].get("out_channels", 28))
    found = _identify(stored, grid, channels)
    latent = PRESETS[found]["latent"] if found else "?"
    wanted = _describe(preset, spatial_shape, network_args["generator"].get("latent_size"))
    configs = [PRESET_CONFIGS[found]] if found in PRESET_CONFIGS else []
    configs += [GRID_CONFIGS[tuple(grid)]] if configs and tuple(grid) in GRID_CONFIGS else []
    hint = (f"add {' and then '.join(configs)} to --config_file" if configs
            else f"pass --preset {found} --spatial_shape \"{list(grid)}\"" if found
            else "pass the preset and spatial_shape it was trained with")
    raise WeightsMismatchError(f"{path} holds a generator of {_describe(found, grid, latent)}, but this config builds "
                               f"{wanted}: {hint}, or pass --checkpoint_file of a model trained with this config.")
