"""Loading FOD files inside MONAI pipelines: ``LoadFODd`` reads NIfTI (or .mif through MRtrix3) into a
channel-first ``MetaTensor`` (C, X, Y, Z) with its world affine, validated (the error names the file)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform

from monai_fodgan.io import load_fod

__all__ = ["LoadFOD", "LoadFODd"]


class LoadFOD(Transform):
    """Path -> validated FOD ``MetaTensor`` (C, X, Y, Z), float32, SH coefficients in MRtrix3 order.

    Args:
        lmax: required lmax (None: any even order).
        truncate: keep the first ``n_coeffs(lmax)`` volumes of a higher-lmax file (an lmax-8 ``wm.mif``
            becomes the paper's lmax-6, 28 channels).
    """

    def __init__(self, lmax: int | None = None, truncate: bool = False) -> None:
        self.lmax = lmax
        self.truncate = truncate

    def __call__(self, path: str) -> torch.Tensor:
        return load_fod(path, lmax=self.lmax, truncate=self.truncate)


class LoadFODd(MapTransform):
    """Dictionary version of :class:`LoadFOD`: replaces each key's path by the loaded image."""

    def __init__(self, keys: KeysCollection, lmax: int | None = None, truncate: bool = False,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadFOD(lmax, truncate)

    def __call__(self, data: Mapping[Hashable, str]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.loader(d[key])
        return d
