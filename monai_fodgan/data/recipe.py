"""The training recipe's data choices: normalisation, rotation augmentation and the synthetic background.

Each is a key of the bundle's ``train.json`` (the paper's choice is one of the options; ``sources`` there says which):

* ``normalization_mode`` / ``normalization_quantile``: :func:`recipe_normalization` (raw coefficients, one global
  scale, or one scale per SH band; quantiles rather than the maximum where scaling is used);
* ``augmentation``: ``"copies"`` (the paper: the original and four slightly rotated fixed copies of every training
  subject, :func:`rotated_copies`), ``"random"`` (a fresh rotation per sample with probability ``rotation_prob``, about
  one random axis or three, :func:`monai_fodgan.transforms.paper_rotation`) or ``"none"``;
* ``background``: ``"population_mask"`` multiplies the generator's output by the voxels that are brain in at least
  ``mask_fraction`` of the training subjects (:func:`population_mask`), in training and in every sampling path, so a
  synthetic subject's background is exactly zero like every prepared image's; ``"none"`` leaves G's output as is.

The fourth choice, ``l0_output`` (``"tanh"``, the paper's, or ``"nonnegative"``), belongs to the generator
(:meth:`monai_fodgan.networks.FODGenerator.set_l0_output`).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AUGMENTATIONS",
    "BACKGROUNDS",
    "copy_angles",
    "population_mask",
    "recipe_normalization",
    "rotated_copies",
    "training_list",
]

logger = logging.getLogger(__name__)

#: ``copies`` (the paper's fixed rotated copies), ``random`` (on the fly, with a probability) or ``none``.
AUGMENTATIONS = ("copies", "random", "none")
#: ``population_mask`` (exact zeros outside the training population's brain) or ``none``.
BACKGROUNDS = ("population_mask", "none")
#: The paper's copies: the original, one about each main axis, one with three successive rotations (x, y, z).
_COPY_AXES = ((), (0,), (1,), (2,), (0, 1, 2))


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}.")
    return value


def recipe_normalization(normalization_file: str | Path, mode: str, quantile: float, datalist_file: str | Path | None = None,
                         lmax: int = 6, max_images: int = 64):
    """The :class:`~monai_fodgan.transforms.SHNormalization` a recipe asks for.

    The dataset's ``sh_stats.json`` (written by ``prepare``) is used when it was computed the same way; ``raw`` needs
    no statistics; otherwise the statistics are computed from (at most ``max_images``, evenly spaced) training
    images of ``datalist_file``, so one prepared dataset serves every recipe of an ablation.

    Raises:
        ValueError: an unknown mode, a quantile outside (0, 1], or a recomputation without a datalist.
    """
    from monai_fodgan.transforms.normalize import NORMALIZATION_MODES, SHNormalization

    _choice("normalization_mode", mode, NORMALIZATION_MODES)
    quantile = float(quantile)
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"normalization_quantile must be in (0, 1], got {quantile}.")
    if mode == "raw":
        return SHNormalization.raw(lmax)
    path = Path(normalization_file)
    if path.is_file():
        stats = SHNormalization.load(path)
        if stats.mode == mode and abs(stats.quantile - quantile) < 1e-12:
            return stats
    if datalist_file is None:
        raise ValueError(f"{path} does not hold {mode} statistics at quantile {quantile}, and no datalist was given "
                         "to compute them from.")
    from monai_fodgan.data.datalist import evenly_spaced, load_datalist
    from monai_fodgan.data.stream import check_datalist

    items = load_datalist(datalist_file, "training")
    # the same header checks as the training data's, so a bad file is named before statistics are computed from it
    check_datalist(items, lmax=lmax, source=f"{datalist_file} (training)")
    picked = evenly_spaced(items, max_images)
    logger.info("normalisation: %s statistics at quantile %g from %d training images of %s (%s holds other statistics)",
                mode, quantile, len(picked), datalist_file, path)
    return SHNormalization.from_images((_load_image(item["image"], lmax) for item in picked), quantile=quantile, mode=mode)


def _load_image(path: str | Path, lmax: int):
    from monai_fodgan.io import load_fod

    if str(path).endswith(".npy"):
        from monai_fodgan.data.training_arrays import load_training_array

        return load_training_array(path, lmax=lmax, truncate=True)
    return load_fod(path, lmax=lmax, truncate=True)


def copy_angles(seed: int, subject: int, copy: int, sd_deg: float = 1.0) -> tuple[float, float, float]:
    """Rotation angles (radians, about x, y, z) of fixed copy ``copy`` (0-4) of training subject ``subject``: Gaussian,
    mean 0, sd ``sd_deg`` degrees, about the copy's axes (:data:`_COPY_AXES`); the same on every machine."""
    rng = np.random.default_rng(zlib.crc32(np.asarray([seed, 7, subject, copy], dtype=np.int64).tobytes()))
    draws = rng.normal(0.0, np.deg2rad(sd_deg), 3)
    return tuple(float(draws[a]) if a in _COPY_AXES[copy] else 0.0 for a in range(3))


def rotated_copies(items: Sequence[Mapping[str, Any]], seed: int, sd_deg: float = 1.0) -> list[dict[str, Any]]:
    """The paper's augmented training list: every subject, then four fixed rotated copies of it (one about each
    main axis, one with three successive rotations), each entry with its angles under ``rotation`` (radians) and
    its copy number under ``copy`` (0 = the original). ``FixedSHRotated`` applies them, so a cached dataset keeps
    the rotated copies in memory exactly like the paper's 4825 files on disk."""
    out = []
    for s, item in enumerate(items):
        for c in range(len(_COPY_AXES)):
            out.append({**item, "rotation": list(copy_angles(seed, s, c, sd_deg)), "copy": c})
    return out


def training_list(datalist_file: str | Path, augmentation: str, seed: int, section: str = "training") -> list[dict[str, Any]]:
    """The training entries a recipe trains on: the datalist's ``section``, with :func:`rotated_copies` for
    ``augmentation="copies"``."""
    from monai_fodgan.data.datalist import load_datalist

    _choice("augmentation", augmentation, AUGMENTATIONS)
    items = load_datalist(datalist_file, section)
    return rotated_copies(items, seed) if augmentation == "copies" else list(items)


def _l0_volume(path: str | Path) -> np.ndarray:
    """The l = 0 volume (X, Y, Z) of a prepared FOD (NIfTI: only the first volume is read) or a training array."""
    if str(path).endswith(".npy"):
        return np.asarray(np.load(path, mmap_mode="r")[0], dtype=np.float32)
    import nibabel as nib

    img = nib.load(str(path))
    if len(img.shape) != 4:
        raise ValueError(f"{path}: expected a 4D FOD image, got shape {img.shape}.")
    return np.asarray(img.dataobj[..., 0], dtype=np.float32)


def population_mask(items: Sequence[Mapping[str, Any]] | Sequence[str | Path], fraction: float = 0.5) -> np.ndarray:
    """Boolean (X, Y, Z) mask of the voxels whose l = 0 coefficient is non-zero in at least ``fraction`` of the
    given training images: the brain of the training population on the common grid (the evaluation's brain mask is
    the same rule over the reference subjects). Subjects repeated as rotated copies count once.

    Raises:
        ValueError: no images, a fraction outside (0, 1], or images on different grids (names the file).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"mask_fraction must be in (0, 1], got {fraction}.")
    paths = list(dict.fromkeys(str(i["image"]) if isinstance(i, Mapping) else str(i) for i in items))
    if not paths:
        raise ValueError("population_mask needs at least one training image.")
    count = None
    for p in paths:
        brain = _l0_volume(p) != 0
        if count is None:
            count = np.zeros(brain.shape, np.int32)
        elif brain.shape != count.shape:
            raise ValueError(f"{p}: grid {brain.shape} differs from the other training images' {count.shape}.")
        count += brain
    return count >= fraction * len(paths)
