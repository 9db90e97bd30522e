"""Array transforms for FOD images (channel-first SH coefficients, MRtrix3 basis, world frame).

Each takes a ``MetaTensor`` (C, X, Y, Z) whose ``affine`` gives the voxel-to-world geometry (a plain tensor is
taken to have the identity affine unless one is passed), or a batch (B, C, X, Y, Z) with one shared affine.
Invertible transforms record what they did in the ``MetaTensor``'s ``applied_operations`` so that
``inverse`` (and MONAI's ``Invertd``) can undo them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, RandomizableTransform, Transform
from monai.transforms.inverse import TraceKeys
from monai.utils import convert_to_dst_type

from monai_fodgan.geometry import check_orthogonal, image_center, rotation_from_angles
from monai_fodgan.transforms.functional import flip_fod_image, resample_to_grid_affine, resample_world, rotate_fod_image
from monai_fodgan.transforms.normalize import SHNormalization
from monai_fodgan.validation import check_fod_array

__all__ = ["SHRotate", "RandSHRotate", "SHFlip", "ResampleToGrid", "NormalizeSH", "ValidateSHImage", "get_affine"]


def get_affine(img: torch.Tensor, affine: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """The (4, 4) float64 voxel-to-world affine of ``img``: ``affine`` if given, the ``MetaTensor``'s, else identity."""
    if affine is None:
        affine = img.affine if isinstance(img, MetaTensor) else torch.eye(4)
    aff = torch.as_tensor(affine, dtype=torch.float64)
    if aff.ndim == 3:  # a collated batch: one affine per item, which must agree
        if not torch.allclose(aff, aff[:1].expand_as(aff)):
            raise ValueError("batched images with different affines cannot share one transform; apply it per image.")
        aff = aff[0]
    return aff


def _source_name(img: torch.Tensor) -> str:
    if isinstance(img, MetaTensor):
        name = img.meta.get("filename_or_obj")
        if name:
            return str(name)
    return "<image>"


def _wrap(out: torch.Tensor, img: torch.Tensor, affine: torch.Tensor | None = None) -> torch.Tensor:
    """Give ``out`` the type and metadata of ``img`` (and a new affine when the grid changed)."""
    res, *_ = convert_to_dst_type(out, img)
    if isinstance(res, MetaTensor) and affine is not None:
        res.affine = affine.to(res.affine.dtype) if isinstance(res.affine, torch.Tensor) else affine
    return res


def _traceable(img: torch.Tensor) -> bool:
    return isinstance(img, MetaTensor) and img.ndim == 4


class SHRotate(InvertibleTransform):
    """Rotate an FOD image about a world point, moving voxels AND rotating every voxel's SH coefficients.

    ``f'(p, u) = f(R^T (p - c) + c, R^T u)``: R and c in world coordinates (so oblique grids are handled);
    the output stays on the input's grid. Matches MRtrix3's ``mrtransform -linear [R^T | c - R^T c]
    -template in -interp linear -oversample 1 -reorient_fod yes``.

    Args:
        rotation: (3, 3) world-frame rotation (or reflection) matrix. Exclusive with ``angles``.
        angles: (ax, ay, az) radians, successive rotations about world x, then y, then z.
        center: world point (mm) to rotate about; None = the grid centre.
        mode: "bilinear" (trilinear) or "nearest".
        padding_mode: value outside the input grid: "zeros", "border" or "reflection".

    Example::

        >>> rot = SHRotate(angles=(0.0, 0.0, np.deg2rad(10)))
        >>> out = rot(fod)   # fod: MetaTensor (28, X, Y, Z)
        >>> back = rot.inverse(out)
    """

    def __init__(
        self,
        rotation: Sequence[Sequence[float]] | torch.Tensor | np.ndarray | None = None,
        angles: Sequence[float] | None = None,
        center: Sequence[float] | None = None,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
    ) -> None:
        if rotation is not None and angles is not None:
            raise ValueError("give either rotation or angles, not both.")
        self.rotation = None if rotation is None else check_orthogonal(rotation).double()
        if angles is not None:
            self.rotation = rotation_from_angles(angles)
        self.center = center
        self.mode = mode
        self.padding_mode = padding_mode

    def __call__(
        self, img: torch.Tensor, rotation: torch.Tensor | np.ndarray | None = None, affine: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Rotate ``img`` by ``rotation`` (default: the constructor's); see the class docstring."""
        r = self.rotation if rotation is None else check_orthogonal(rotation).double()
        if r is None:
            raise ValueError("SHRotate needs a rotation matrix or angles.")
        aff = get_affine(img, affine)
        center = image_center(aff, img.shape[-3:]) if self.center is None else torch.as_tensor(self.center, dtype=torch.float64)
        if torch.equal(r, torch.eye(3, dtype=r.dtype)):  # e.g. a random rotation not drawn: skip the resampling
            out = _wrap(torch.as_tensor(img).clone(), img)
        else:
            out = _wrap(rotate_fod_image(torch.as_tensor(img), aff, r, center, self.mode, self.padding_mode), img)
        if _traceable(out) and r.ndim == 2:
            self.push_transform(out, extra_info={"rotation": r.tolist(), "center": center.tolist()})
        return out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        """Rotate back by R^T about the same centre (nothing to undo for a recorded identity, e.g. a random
        rotation that was not applied)."""
        xform = self.pop_transform(data)
        info = xform[TraceKeys.EXTRA_INFO]
        r = torch.tensor(info["rotation"], dtype=torch.float64)
        if torch.equal(r, torch.eye(3, dtype=torch.float64)):
            return data
        inv = SHRotate(rotation=r.T, center=info["center"], mode=self.mode, padding_mode=self.padding_mode)
        with inv.trace_transform(False):
            return inv(data)


class RandSHRotate(RandomizableTransform, InvertibleTransform):
    """Randomly rotate an FOD image (see :class:`SHRotate`) with angles about the world axes.

    Args:
        range_x, range_y, range_z: per axis, the half-width (radians) of a uniform range ``[-r, r]``
            (a pair ``(lo, hi)`` is also accepted), or the standard deviation of a zero-mean Gaussian when
            ``distribution="gaussian"``.
        prob: probability of rotating.
        distribution: "uniform" or "gaussian".
        single_axis: rotate about ONE main axis chosen uniformly at random (among those with a non-zero
            range), as the paper's single-axis copies; otherwise successive rotations about x, y, z.
        center, mode, padding_mode: as :class:`SHRotate`.

    The paper's augmentation (Vellmer et al. 2025, Methods): Gaussian angles, mean 0, sd 1 degree, about each
    main axis, plus a copy with three successive rotations: ``distribution="gaussian"``,
    ``range_x = range_y = range_z = np.deg2rad(1)``, ``single_axis=True`` or ``False``
    (see :mod:`monai_fodgan.transforms.presets`).
    """

    def __init__(
        self,
        range_x: float | Sequence[float] = 0.0,
        range_y: float | Sequence[float] = 0.0,
        range_z: float | Sequence[float] = 0.0,
        prob: float = 0.1,
        distribution: str = "uniform",
        single_axis: bool = False,
        center: Sequence[float] | None = None,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        if distribution not in ("uniform", "gaussian"):
            raise ValueError(f"distribution must be 'uniform' or 'gaussian', got {distribution!r}.")
        self.ranges = [self._as_range(r, distribution) for r in (range_x, range_y, range_z)]
        self.distribution = distribution
        self.single_axis = single_axis
        self.rotator = SHRotate(rotation=np.eye(3), center=center, mode=mode, padding_mode=padding_mode)
        self.angles = np.zeros(3)

    @staticmethod
    def _as_range(r: float | Sequence[float], distribution: str) -> tuple[float, float]:
        if isinstance(r, (int, float)):
            return (0.0, float(r)) if distribution == "gaussian" else (-abs(float(r)), abs(float(r)))
        if distribution == "gaussian":
            raise ValueError("a Gaussian range is one standard deviation (radians), not a pair.")
        lo, hi = (float(v) for v in r)
        return (min(lo, hi), max(lo, hi))

    def _draw(self, axis: int) -> float:
        lo, hi = self.ranges[axis]
        if self.distribution == "gaussian":
            return float(self.R.normal(0.0, hi)) if hi > 0 else 0.0
        return float(self.R.uniform(lo, hi)) if hi > lo else lo

    def randomize(self, data: object | None = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        self.angles = np.zeros(3)
        if self.single_axis:
            active = [a for a, (lo, hi) in enumerate(self.ranges) if hi != lo or (self.distribution == "gaussian" and hi > 0)]
            if active:
                axis = active[int(self.R.randint(len(active)))]
                self.angles[axis] = self._draw(axis)
        else:
            self.angles = np.array([self._draw(a) for a in range(3)])

    def rotation_matrix(self) -> torch.Tensor:
        """The (3, 3) rotation drawn by the last :meth:`randomize`."""
        return rotation_from_angles(self.angles)

    def __call__(self, img: torch.Tensor, randomize: bool = True, affine: torch.Tensor | None = None) -> torch.Tensor:
        if randomize:
            self.randomize()
        rotation = self.rotation_matrix() if self._do_transform else torch.eye(3, dtype=torch.float64)
        return self.rotator(img, rotation=rotation, affine=affine)

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        return self.rotator.inverse(data)


class SHFlip(InvertibleTransform):
    """Mirror an FOD image along voxel axes with the matching reflection of its SH coefficients.

    The affine is kept, so the anatomy is reflected in world space (a left-right flip of an axis-aligned
    brain swaps hemispheres and mirrors every fibre). Differs from MONAI's ``Flip``, which only re-indexes
    voxels. Its own inverse.

    Args:
        spatial_axis: voxel axis (0, 1, 2) or several.
    """

    def __init__(self, spatial_axis: int | Sequence[int] = 0) -> None:
        self.spatial_axis = spatial_axis

    def __call__(self, img: torch.Tensor, affine: torch.Tensor | None = None) -> torch.Tensor:
        out = _wrap(flip_fod_image(torch.as_tensor(img), get_affine(img, affine), self.spatial_axis), img)
        if _traceable(out):
            self.push_transform(out)
        return out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        self.pop_transform(data)
        with self.trace_transform(False):
            return self(data)


class ResampleToGrid(InvertibleTransform):
    """Resample an FOD image to ``spatial_size`` voxels over the same field of view (voxel edges kept).

    Resampling is linear per volume and needs no SH reorientation (the coefficients are in the world frame);
    the affine's spacing is scaled by ``old / new`` per axis. Like ``mrgrid regrid -size ... -interp linear``.
    The paper resampled its cropped HCP volumes to 128 x 128 x 64 (the default).

    Args:
        spatial_size: output grid (X, Y, Z).
        mode: "bilinear" (trilinear) or "nearest".
    """

    def __init__(self, spatial_size: Sequence[int] = (128, 128, 64), mode: str = "bilinear") -> None:
        if len(spatial_size) != 3 or min(spatial_size) < 1:
            raise ValueError(f"spatial_size must be three positive sizes, got {spatial_size}.")
        self.spatial_size = tuple(int(s) for s in spatial_size)
        self.mode = mode

    def __call__(self, img: torch.Tensor, affine: torch.Tensor | None = None) -> torch.Tensor:
        return self._resample(img, get_affine(img, affine), self.spatial_size, record=True)

    def _resample(self, img: torch.Tensor, aff: torch.Tensor, size: Sequence[int], record: bool,
                  new_aff: torch.Tensor | None = None) -> torch.Tensor:
        in_shape = tuple(img.shape[-3:])
        out_aff = resample_to_grid_affine(aff, in_shape, size) if new_aff is None else new_aff
        out = resample_world(torch.as_tensor(img), aff, out_aff, size, mode=self.mode, padding_mode="border")
        out = _wrap(out, img, out_aff)
        if record and _traceable(out):
            self.push_transform(out, orig_size=in_shape, extra_info={"affine": aff.tolist()})
        return out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        """Resample back to the original grid (interpolation is not lossless; the geometry is exact)."""
        xform = self.pop_transform(data)
        orig_aff = torch.tensor(xform[TraceKeys.EXTRA_INFO]["affine"], dtype=torch.float64)
        return self._resample(data, get_affine(data), xform[TraceKeys.ORIG_SIZE], record=False, new_aff=orig_aff)


class NormalizeSH(InvertibleTransform):
    """Scale SH coefficients into the generator's range with dataset statistics; exactly invertible.

    Args:
        stats: a :class:`SHNormalization`, or the path of its JSON file.
    """

    def __init__(self, stats: SHNormalization | str) -> None:
        self.stats = stats if isinstance(stats, SHNormalization) else SHNormalization.load(stats)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        channel_dim = 1 if img.ndim == 5 else 0
        out = _wrap(self.stats.normalize(torch.as_tensor(img), channel_dim=channel_dim), img)
        if _traceable(out):
            self.push_transform(out)
        return out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        if _traceable(data):
            self.pop_transform(data)
        channel_dim = 1 if data.ndim == 5 else 0
        return _wrap(self.stats.denormalize(torch.as_tensor(data), channel_dim=channel_dim), data)


class ValidateSHImage(Transform):
    """Reject images that are not FOD images, naming the file; optionally truncate to ``lmax``.

    Args:
        lmax: required maximum degree (None: any even-order SH count).
        truncate: keep the first ``n_coeffs(lmax)`` volumes of a higher-lmax image (lmax 8 -> 6 keeps 28 of 45).
    """

    def __init__(self, lmax: int | None = None, truncate: bool = False) -> None:
        self.lmax = lmax
        self.truncate = truncate

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return check_fod_array(img, _source_name(img), lmax=self.lmax, truncate=self.truncate, channel_dim=0)

