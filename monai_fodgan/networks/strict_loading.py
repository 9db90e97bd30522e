"""Networks that refuse a partial load instead of keeping random weights.

Why: ``monai.bundle.load`` (and ``monai.networks.copy_model_state`` under it) copies only the tensors of a weights
file whose names and shapes match the network, and hands ``load_state_dict`` the network's *own* tensors for all the
others. A file of another preset, or the bundle's ``models/model.pt`` without ``key_in_ckpt="model"``, then "loads"
3 of 31 (or 0 of 31) tensors and returns a randomly initialised generator with only a log line. A tensor handed back
to the module it came from shares its storage, which is how such a load is recognised here: every tensor given to
:meth:`StrictLoadMixin.load_state_dict` must come from elsewhere. (The one legitimate load of a network's own tensors,
``net.load_state_dict(net.state_dict())``, changes nothing and is refused as well.)
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["PartialLoadError", "StrictLoadMixin", "own_tensors"]


class PartialLoadError(ValueError):
    """Weights that would leave some of a network's tensors as they were (random, for a new network)."""


def own_tensors(module: torch.nn.Module, state_dict: Mapping[str, Any]) -> list[str]:
    """Names in ``state_dict`` whose tensor is ``module``'s own (same storage, same shape): nothing was loaded there."""
    own = {k: v for k, v in module.state_dict(keep_vars=True).items() if isinstance(v, torch.Tensor)}
    kept = []
    for name, value in state_dict.items():
        mine = own.get(name)
        if (isinstance(value, torch.Tensor) and mine is not None and value.numel() > 0 and not value.is_meta
                and value.shape == mine.shape and value.data_ptr() == mine.data_ptr()):
            kept.append(name)
    return kept


def _file_being_loaded() -> str | None:
    """The weights file MONAI's ``monai.bundle.load`` is copying from, when the call comes from there (for the message)."""
    frame = inspect.currentframe()
    while frame is not None:
        if Path(frame.f_code.co_filename).as_posix().endswith("monai/bundle/scripts.py") and "full_path" in frame.f_locals:
            return str(frame.f_locals["full_path"])
        frame = frame.f_back
    return None


class StrictLoadMixin:
    """``load_state_dict`` that raises :class:`PartialLoadError` when any given tensor is the network's own.

    Mix in before ``nn.Module`` (``class FODGenerator(StrictLoadMixin, nn.Module)``); the state dict, the forward pass
    and TorchScript are unchanged.
    """

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        kept = own_tensors(self, state_dict)  # type: ignore[arg-type]
        if kept:
            source = _file_being_loaded() or "the weights given"
            total = len(self.state_dict())  # type: ignore[attr-defined]
            shapes = {k: tuple(v.shape) for k, v in self.state_dict().items()}  # type: ignore[attr-defined]
            examples = ", ".join(f"{k} {shapes[k]}" for k in kept[:3])
            raise PartialLoadError(
                f"{source}: {len(kept)} of {total} tensors of this {type(self).__name__} are not in it with these names "
                f"and shapes (e.g. {examples}), so they would stay randomly initialised. The file holds another network "
                "or preset (the shipped demo weights, models/demo_model.pt, need configs/demo.json's preset and grid), or "
                "keeps the weights under a key: the bundle's model.pt has the generator under 'model' "
                "(key_in_ckpt='model').")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)  # type: ignore[misc]
