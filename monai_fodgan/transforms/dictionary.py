"""Dictionary versions of the FOD transforms (MONAI ``MapTransform`` wrappers around :mod:`.array`).

Every key gets the same geometric operation (e.g. the same random rotation for an FOD image and its brain
mask); a single-channel image (a mask, an l = 0 map) is moved without coefficient rotation, since its
"SH" is l = 0 only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import CropForegroundd, InvertibleTransform, MapTransform, RandomizableTransform
from monai.transforms.inverse import TraceKeys
from monai.utils import ensure_tuple_rep

from monai_fodgan.geometry import rotation_from_angles
from monai_fodgan.transforms.array import NormalizeSH, RandSHRotate, ResampleToGrid, SHFlip, SHRotate, ValidateSHImage
from monai_fodgan.transforms.normalize import SHNormalization

__all__ = [
    "SHRotated",
    "FixedSHRotated",
    "RandSHRotated",
    "SHFlipd",
    "RandSHFlipd",
    "ResampleToGridd",
    "NormalizeSHd",
    "ValidateSHImaged",
    "CropBraind",
    "L0Above",
]


class _PerKeyd(MapTransform, InvertibleTransform):
    """Applies one invertible array transform per key (``self.per_key``, aligned with ``self.keys``)."""

    per_key: list[InvertibleTransform]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key, transform in self.key_iterator(d, self.per_key):
            d[key] = transform(d[key])
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key, transform in self.key_iterator(d, self.per_key):
            d[key] = transform.inverse(d[key])
        return d


class SHRotated(_PerKeyd):
    """Dictionary version of :class:`SHRotate`.

    Args:
        keys: keys of the images to rotate.
        rotation, angles, center, padding_mode: as :class:`SHRotate`.
        mode: interpolation per key ("bilinear" for FODs, "nearest" for masks and labels).
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        rotation: Sequence[Sequence[float]] | torch.Tensor | np.ndarray | None = None,
        angles: Sequence[float] | None = None,
        center: Sequence[float] | None = None,
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str = "zeros",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.per_key = [SHRotate(rotation, angles, center, m, padding_mode) for m in self.mode]


class FixedSHRotated(MapTransform):
    """Rotate by angles stored in each item (``angle_key``: (ax, ay, az) radians, successive rotations about world x,
    y, z): the paper's fixed rotated copies (:func:`monai_fodgan.data.rotated_copies`). Deterministic, so a
    ``CacheDataset`` or a cached :class:`~monai_fodgan.data.FODStreamDataset` keeps the rotated copies in memory; an
    item without the key, or with zero angles, passes unchanged.

    Args:
        keys: keys of the images to rotate.
        angle_key: key of the angles.
        mode: interpolation per key.
        allow_missing_keys: skip absent keys.
    """

    def __init__(self, keys: KeysCollection, angle_key: str = "rotation", mode: str | Sequence[str] = "bilinear",
                 allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.angle_key = angle_key
        self.rotators = [SHRotate(np.eye(3), None, None, m) for m in ensure_tuple_rep(mode, len(self.keys))]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        angles = d.get(self.angle_key)
        if angles is None or not np.any(np.asarray(angles, dtype=np.float64)):
            return d
        rotation = rotation_from_angles(np.asarray(angles, dtype=np.float64))
        for key, rotator in self.key_iterator(d, self.rotators):
            with rotator.trace_transform(False):
                d[key] = rotator(d[key], rotation=rotation)
        return d


class RandSHRotated(RandomizableTransform, MapTransform, InvertibleTransform):
    """Dictionary version of :class:`RandSHRotate`: one random rotation, applied to every key.

    Args:
        keys: keys of the images to rotate.
        range_x, range_y, range_z, prob, distribution, single_axis, center, padding_mode: as :class:`RandSHRotate`.
        mode: interpolation per key.
        allow_missing_keys: skip absent keys.

    Example (the paper's augmentation, one random main axis, sd 1 degree)::

        >>> aug = RandSHRotated("image", range_x=np.deg2rad(1), range_y=np.deg2rad(1), range_z=np.deg2rad(1),
        ...                     prob=1.0, distribution="gaussian", single_axis=True)
        >>> aug.set_random_state(seed=0)
    """

    def __init__(
        self,
        keys: KeysCollection,
        range_x: float | Sequence[float] = 0.0,
        range_y: float | Sequence[float] = 0.0,
        range_z: float | Sequence[float] = 0.0,
        prob: float = 0.1,
        distribution: str = "uniform",
        single_axis: bool = False,
        center: Sequence[float] | None = None,
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str = "zeros",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.rand_rotate = RandSHRotate(range_x, range_y, range_z, 1.0, distribution, single_axis, center, "bilinear", padding_mode)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.rotators = [SHRotate(np.eye(3), None, center, m, padding_mode) for m in self.mode]

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandSHRotated:
        super().set_random_state(seed, state)
        self.rand_rotate.set_random_state(seed, state)
        return self

    def randomize(self, data: object | None = None) -> None:
        super().randomize(None)
        self.rand_rotate.randomize()

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize()
        rotation = self.rand_rotate.rotation_matrix() if self._do_transform else torch.eye(3, dtype=torch.float64)
        for key, rotator in self.key_iterator(d, self.rotators):
            d[key] = rotator(d[key], rotation=rotation)
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key, rotator in self.key_iterator(d, self.rotators):
            d[key] = rotator.inverse(d[key])
        return d


class SHFlipd(_PerKeyd):
    """Dictionary version of :class:`SHFlip` (mirror voxels and reflect SH coefficients, affine kept)."""

    def __init__(self, keys: KeysCollection, spatial_axis: int | Sequence[int] = 0, allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.per_key = [SHFlip(spatial_axis)] * len(self.keys)


class RandSHFlipd(RandomizableTransform, MapTransform, InvertibleTransform):
    """Randomly mirror (with probability ``prob``) along ``spatial_axis``, reflecting SH coefficients."""

    def __init__(self, keys: KeysCollection, prob: float = 0.1, spatial_axis: int | Sequence[int] = 0,
                 allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.flipper = SHFlip(spatial_axis)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandSHFlipd:
        super().set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize(None)
        for key in self.key_iterator(d):
            if self._do_transform:
                d[key] = self.flipper(d[key])
            if isinstance(d[key], MetaTensor):
                self.push_transform(d[key], extra_info={"flipped": bool(self._do_transform)})
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            if self.pop_transform(d[key])[TraceKeys.EXTRA_INFO]["flipped"]:
                d[key] = self.flipper.inverse(d[key])
        return d


class ResampleToGridd(_PerKeyd):
    """Dictionary version of :class:`ResampleToGrid` (mode per key)."""

    def __init__(self, keys: KeysCollection, spatial_size: Sequence[int] = (128, 128, 64),
                 mode: str | Sequence[str] = "bilinear", allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.per_key = [ResampleToGrid(spatial_size, m) for m in ensure_tuple_rep(mode, len(self.keys))]


class NormalizeSHd(_PerKeyd):
    """Dictionary version of :class:`NormalizeSH`.

    Args:
        keys: FOD image keys.
        stats: a :class:`SHNormalization` or the path of its JSON file (e.g. the dataset's ``sh_stats.json``).
    """

    def __init__(self, keys: KeysCollection, stats: SHNormalization | str, allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.per_key = [NormalizeSH(stats)] * len(self.keys)


class ValidateSHImaged(MapTransform):
    """Dictionary version of :class:`ValidateSHImage`."""

    def __init__(self, keys: KeysCollection, lmax: int | None = None, truncate: bool = False,
                 allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.validator = ValidateSHImage(lmax, truncate)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.validator(d[key])
        return d


class L0Above:
    """Foreground selector for cropping: voxels whose FIRST channel (the l = 0 coefficient, or a mask)
    exceeds ``threshold``. A picklable class rather than a lambda, so multi-process data loaders work."""

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img[:1] > self.threshold


class CropBraind(CropForegroundd):
    """Crop to the bounding box of the brain: a mask key, or the l = 0 volume of the FOD itself.

    A thin preset of MONAI's ``CropForegroundd`` (so it is invertible and updates the affine): the
    foreground is ``source[0] > threshold``. Cropping needs no SH reorientation.

    Args:
        keys: images to crop (FOD, mask, ...).
        source_key: key of the image defining the brain (a mask, or the FOD: its l = 0 volume).
        threshold: foreground threshold on the source's first channel.
        margin: voxels kept around the bounding box.
        kwargs: passed on to ``CropForegroundd`` (e.g. ``k_divisible``, ``allow_smaller``).
    """

    def __init__(self, keys: KeysCollection, source_key: str, threshold: float = 0.0,
                 margin: Sequence[int] | int = 0, **kwargs) -> None:
        kwargs.setdefault("allow_smaller", True)
        super().__init__(keys, source_key=source_key, select_fn=L0Above(threshold), margin=margin, **kwargs)
