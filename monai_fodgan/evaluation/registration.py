"""Atlas in subject space: register an MNI template to a subject's AFD map and carry AAL + tract regions across.

The paper registered AAL to every subject (synthetic ones included). Here DIPY does it: an affine registration
(centre of mass, translation, rigid, affine; mutual information) then SyN (cross-correlation, radius 2, update
field smoothed with sigma 3 voxels: more regularised than DIPY's default, which over-fits fibre-density patterns).
The moving image is a TEMPLATE in MNI152 space; the static image is the subject's AFD (l = 0 times sqrt(4 pi)).
The result is the MNI position of every subject voxel; AAL labels (nearest neighbour) and the tract regions are
looked up there.

Templates (:func:`load_template`):

* ``"mni-wm"``: the ICBM 2009a white-matter probability map shipped with nilearn. The AFD map is saturated at
  the median of its positive values so that white matter is ~1 everywhere, as in the probability map.
* ``"phantom"``: the phantom population's own AFD template (:func:`monai_fodgan.data.phantom.template_afd`).
* a path: a user's MNI-space template, an FOD image (its l = 0 volume is used) or a 3D AFD map.

AFD templates (the last two) are compared with the AFD map directly, both scaled by their 99th percentile. On the
phantom population with its own template, registration raises the mean AAL label Dice against the known labels
from 0.50 (none) to 0.87 (tests/evaluation/test_registration.py). With the WM-probability template the affine
stage does as well but SyN lowers it (the phantom's AFD is dominated by its bundles, unlike real WM).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.evaluation.atlas import aal_labels_at, tract_region_volumes

__all__ = ["TEMPLATES", "Template", "WarpedAtlas", "load_template", "register_atlas", "atlas_in_mni", "label_dice"]

TEMPLATES = ("mni-wm", "phantom")


@dataclass
class Template:
    """A moving image in MNI space: ``data`` (X, Y, Z) on ``affine``; ``kind`` "probability" or "afd"."""

    data: np.ndarray
    affine: np.ndarray
    kind: str
    name: str


@dataclass
class WarpedAtlas:
    """The atlas on a subject's grid.

    Attributes:
        aal: (X, Y, Z) int16 AAL labels (0 outside).
        regions: (R, X, Y, Z) uint8 tract regions, in the order of :func:`~.atlas.region_names`.
        template: (X, Y, Z) float32 the template warped onto the subject, scaled as registered (quality control).
        method: "mni" (no registration), "affine" or "affine+syn".
        quality: correlation between the subject's (scaled) AFD and the warped template, before and after.
    """

    aal: np.ndarray
    regions: np.ndarray
    template: np.ndarray
    method: str
    quality: dict = field(default_factory=dict)


def _coarse(image: np.ndarray, affine: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` averaged over ``factor``^3 blocks, with its affine (the 1 mm template at 2 mm registers 5x faster)."""
    crop = [s - s % factor for s in image.shape]
    t = image[: crop[0], : crop[1], : crop[2]].astype(np.float64)
    t = t.reshape(crop[0] // factor, factor, crop[1] // factor, factor, crop[2] // factor, factor).mean((1, 3, 5))
    coarse = np.array(affine, dtype=np.float64)
    coarse[:3, :3] = coarse[:3, :3] * factor
    coarse[:3, 3] = affine[:3, 3] + affine[:3, :3] @ np.full(3, (factor - 1) / 2)
    return t.astype(np.float32), coarse


def load_template(name: str | Path) -> Template:
    """The moving image for :func:`register_atlas`: "mni-wm", "phantom" or a NIfTI path (see the module docstring).

    Raises:
        FileNotFoundError / ValueError: naming the file, when a path does not exist or is not 3D/4D.
    """
    if str(name) == "mni-wm":
        from monai_fodgan.data.phantom import load_mni_tissue

        wm, _, affine = load_mni_tissue()
        data, aff = _coarse(wm, np.asarray(affine, dtype=np.float64), 2)
        return Template(data, aff, "probability", "mni-wm")
    if str(name) == "phantom":
        from monai_fodgan.data.phantom import template_afd

        data, aff = template_afd(2.0)
        return Template(data, aff, "afd", "phantom")
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"template {path}: no such file (or use one of {TEMPLATES}).")
    img = nib.load(str(path))
    if img.ndim == 4:
        data = np.asarray(img.dataobj[..., 0], dtype=np.float32) * np.float32(np.sqrt(4 * np.pi))
    elif img.ndim == 3:
        data = np.asarray(img.dataobj, dtype=np.float32)
    else:
        raise ValueError(f"template {path} is {img.ndim}D; expected a 3D AFD map or a 4D FOD image.")
    return Template(data, np.asarray(img.affine, dtype=np.float64), "afd", str(path))


def _level_settings(shape: tuple[int, ...]) -> tuple[list[int], list[float], list[int]]:
    """Pyramid (iterations, sigmas, factors) that keeps the coarsest level at >= 8 voxels along every axis."""
    levels = max(1, min(3, int(np.log2(max(min(shape) / 8, 1))) + 1))
    factors = [2 ** k for k in range(levels - 1, -1, -1)]
    return [200, 100, 50][-levels:], [float(f - 1) for f in factors], factors


def _static_image(afd: np.ndarray, kind: str) -> np.ndarray:
    """The subject's AFD made comparable to the template (see the module docstring)."""
    static = np.clip(np.nan_to_num(np.asarray(afd, dtype=np.float64)), 0, None)
    positive = static[static > 0]
    if positive.size == 0:
        raise ValueError("the AFD map has no positive voxel; nothing to register the atlas to.")
    if kind == "probability":
        return np.clip(static / np.percentile(positive, 50), 0, 1)
    return np.clip(static / np.percentile(positive, 99), 0, 2)


def _moving_image(template: Template) -> np.ndarray:
    data = np.clip(np.asarray(template.data, dtype=np.float64), 0, None)
    if template.kind == "afd" and (data > 0).any():
        data = np.clip(data / np.percentile(data[data > 0], 99), 0, 2)
    return data


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    keep = (a > 0) | (b > 0)
    if keep.sum() < 3 or np.std(a[keep]) == 0 or np.std(b[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def _world_points(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """World position (X, Y, Z, 3) of every voxel centre of a grid."""
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).astype(np.float64)
    return idx @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]


def _sample(volume: np.ndarray, affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    ijk = (points.reshape(-1, 3) - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    return map_coordinates(volume, ijk.T, order=1, mode="constant").reshape(points.shape[:-1])


def _atlas_at(mni: np.ndarray, tracts: tuple[str, ...] | list[str], template: Template, static: np.ndarray | None,
              method: str, quality: dict) -> WarpedAtlas:
    warped = _sample(_moving_image(template), template.affine, mni).astype(np.float32)
    if static is not None:
        quality["correlation"] = _correlation(static, warped)
    return WarpedAtlas(aal_labels_at(mni), tract_region_volumes(tracts, mni), warped, method, quality)


def atlas_in_mni(tracts: tuple[str, ...] | list[str], shape: tuple[int, ...], affine: np.ndarray,
                 afd: np.ndarray | None = None, template: Template | None = None) -> WarpedAtlas:
    """The atlas for a subject already in MNI space (its world points are MNI points): no registration."""
    template = template or load_template("mni-wm")
    static = None if afd is None else _static_image(afd, template.kind)
    return _atlas_at(_world_points(shape, affine), tracts, template, static, "mni", {})


def register_atlas(afd: np.ndarray, affine: np.ndarray, tracts: tuple[str, ...] | list[str], template: Template,
                   syn: bool = True) -> WarpedAtlas:
    """Register ``template`` to the subject's ``afd`` (X, Y, Z; world ``affine``) and bring AAL and the tract
    regions onto the subject's grid.

    Args:
        afd: the subject's AFD map (any positive scale).
        affine: its voxel-to-world matrix.
        tracts: tracts whose inclusion regions are carried across.
        template: the moving image (:func:`load_template`).
        syn: add the non-linear SyN stage after the affine one.

    Raises:
        ValueError: when the AFD map is empty.
    """
    from dipy.align import affine_registration
    from dipy.align.imwarp import SymmetricDiffeomorphicRegistration
    from dipy.align.metrics import CCMetric

    logging.getLogger("dipy").setLevel(logging.WARNING)
    static = _static_image(afd, template.kind)
    moving = _moving_image(template)
    shape = tuple(afd.shape)
    world = _world_points(shape, affine)
    quality = {"correlation_before": _correlation(static, _sample(moving, template.affine, world))}
    iters, sigmas, factors = _level_settings(shape)
    _, linear = affine_registration(moving, static, moving_affine=template.affine, static_affine=affine,
                                    pipeline=["center_of_mass", "translation", "rigid", "affine"],
                                    level_iters=iters, sigmas=sigmas, factors=factors)
    if syn:
        syn_stage = SymmetricDiffeomorphicRegistration(CCMetric(3, sigma_diff=3.0, radius=2), level_iters=[50] * len(iters))
        mapping = syn_stage.optimize(static, moving, static_grid2world=affine, moving_grid2world=template.affine,
                                     prealign=linear)
        mni = mapping.transform_points(world.reshape(-1, 3)).reshape(world.shape)  # subject world -> MNI (checked)
    else:
        mni = world @ linear[:3, :3].T + linear[:3, 3]
    return _atlas_at(mni, tracts, template, static, "affine+syn" if syn else "affine", quality)


def label_dice(a: np.ndarray, b: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Dice of each label (nonzero values) between two label maps on the same grid; labels missing in both are NaN."""
    labels = np.union1d(np.unique(a), np.unique(b)) if labels is None else labels
    labels = labels[labels != 0]
    out = np.full(len(labels), np.nan)
    for k, lab in enumerate(labels):
        x, y = a == lab, b == lab
        total = x.sum() + y.sum()
        if total:
            out[k] = 2.0 * np.logical_and(x, y).sum() / total
    return out
