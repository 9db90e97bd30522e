"""Datasets of a prepared task-generation cohort (the ``datalist.json`` of :mod:`.prepare`).

Images are the K connectivity maps and labels the C task maps, both (X, Y, Z, N) NIfTI on the mask's grid,
loaded channel-first as (N, X, Y, Z) float32 by MONAI's ``LoadImaged`` + ``EnsureChannelFirstd``. No
intensity normalisation: connectivity maps are correlations in [-1, 1] and task maps keep their units (the
CRR margin is in those units).
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import CacheDataset
from monai.transforms import Compose, EnsureChannelFirstd, EnsureTyped, LoadImaged

__all__ = ["taskgen_dataset", "load_gm_mask"]


def taskgen_dataset(prepared: str | Path, split: str = "training", cache_rate: float = 1.0) -> CacheDataset:
    """The ``split`` entries (``training`` / ``validation``) of ``prepared/datalist.json`` as a MONAI dataset
    of dicts with ``image`` (K, X, Y, Z), ``label`` (C, X, Y, Z) and ``subject``."""
    prepared = Path(prepared)
    entries = json.loads((prepared / "datalist.json").read_text())[split]
    items = [{**e, "image": str(prepared / e["image"]), "label": str(prepared / e["label"])} for e in entries]
    keys = ["image", "label"]
    transform = Compose([LoadImaged(keys, image_only=True), EnsureChannelFirstd(keys, channel_dim=-1),
                         EnsureTyped(keys, dtype=torch.float32, track_meta=False)])
    return CacheDataset(items, transform, cache_rate=cache_rate, progress=False)


def load_gm_mask(prepared: str | Path) -> torch.Tensor:
    """(X, Y, Z) bool grey-matter mask of a prepared cohort (``gm_mask.nii.gz``, else the brain mask)."""
    prepared = Path(prepared)
    path = prepared / "gm_mask.nii.gz"
    if not path.is_file():
        path = prepared / "mask.nii.gz"
    return torch.from_numpy(np.asarray(nib.load(str(path)).dataobj) > 0)
