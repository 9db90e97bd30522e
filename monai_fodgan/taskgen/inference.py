"""Predicting a subject's task maps from its prepared rest connectivity maps.

A subject prepared with sub-samples (``--window``) has several K-map sets; the paper predicts each and
averages the predictions (Serin et al. 2025, Methods: 8 sub-samples of 600 frames per HCP subject). Without
sub-samples the all-frames maps are the one input. Predictions are written as (X, Y, Z, C) float32 NIfTI on the
cohort's MNI grid (``mask.nii.gz`` of the preparation), 0 outside the mask.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from torch import nn

from monai_fodgan.io import atomic_output, save_nifti

__all__ = ["predict_subject", "predict_cohort", "save_checkpoint", "load_network_weights"]


def _load_maps(path: Path) -> torch.Tensor:
    """(X, Y, Z, K) NIfTI -> (K, X, Y, Z) float32 tensor."""
    return torch.from_numpy(np.moveaxis(np.asarray(nib.load(str(path)).dataobj, dtype=np.float32), -1, 0).copy())


@torch.no_grad()
def predict_subject(network: nn.Module, samples: Sequence[torch.Tensor | str | Path], device: str | torch.device = "cpu",
                    batch_size: int = 4) -> torch.Tensor:
    """Mean prediction over a subject's sub-samples: each (K, X, Y, Z) -> (C, X, Y, Z) on the CPU.

    The network is put in eval mode (BatchNorm uses its running statistics)."""
    network.eval()
    if not samples:
        raise ValueError("no samples to predict from.")
    total = None
    for start in range(0, len(samples), batch_size):
        chunk = [s if isinstance(s, torch.Tensor) else _load_maps(Path(s)) for s in samples[start:start + batch_size]]
        pred = network(torch.stack(chunk).to(device)).float().sum(0).cpu()
        total = pred if total is None else total + pred
    return total / len(samples)


def predict_cohort(network: nn.Module, prepared: str | Path, out: str | Path, split: str = "prediction",
                   device: str | torch.device = "cpu") -> list[Path]:
    """Predict every subject of ``split`` (``prediction`` or ``validation``) of ``prepared/datalist.json`` and
    write ``out/<subject>_pred.nii.gz`` (X, Y, Z, C). Returns the written paths."""
    prepared, out = Path(prepared), Path(out)
    entries = json.loads((prepared / "datalist.json").read_text())[split]
    mask_img = nib.load(str(prepared / "mask.nii.gz"))
    mask = torch.from_numpy(np.asarray(mask_img.dataobj) > 0)
    written = []
    for e in entries:
        pred = predict_subject(network, [prepared / s for s in e.get("samples", [e["image"]])], device)
        pred[:, ~mask] = 0
        written.append(save_nifti(pred, mask_img.affine, out / f"{e['subject']}_pred.nii.gz"))
    return written


def save_checkpoint(path: str | Path, network: nn.Module, **meta: object) -> Path:
    """Write ``{"model": state_dict, **meta}`` atomically (meta: e.g. the preset and channel counts)."""
    with atomic_output(path) as tmp:
        torch.save({"model": network.state_dict(), **meta}, tmp)
    return Path(path)


def load_network_weights(network: nn.Module, path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load weights saved by :func:`save_checkpoint` (or a bare state dict) into ``network``; returns it.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (train the bundle first, or give checkpoint_file).")
    state = torch.load(path, map_location=map_location, weights_only=True)
    network.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    return network
