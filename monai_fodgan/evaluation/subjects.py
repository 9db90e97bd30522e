"""Which FOD images are evaluated: the three sets (synthetic, reference, training) and how to read them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.sh import lmax_from_n_coeffs

__all__ = ["EvalSubject", "collect_subjects", "check_common_grid", "load_fod_array", "afd_map", "SQRT_4PI"]

#: AFD (the integral of the FOD over the sphere) is the l = 0 coefficient times sqrt(4 pi) in the orthonormal basis.
SQRT_4PI = float(np.sqrt(4 * np.pi))


@dataclass(frozen=True)
class EvalSubject:
    """One FOD image of one set: ``name`` is unique within the set (file stem)."""

    group: str  # "synthetic", "reference" or "training"
    name: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".mif"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def collect_subjects(source: str | Path, group: str, key: str | None = None) -> list[EvalSubject]:
    """The FOD images of one set.

    Args:
        source: a folder (every ``*.nii.gz`` / ``*.nii`` in it, sorted) or a datalist JSON written by
            ``monai_fodgan.prepare`` (entries of ``key``, paths relative to the JSON's folder).
        group: the set's name.
        key: datalist key (e.g. "validation"); ignored for folders.

    Raises:
        FileNotFoundError / ValueError: naming the folder or file, when nothing usable is there.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{group} set: {source} does not exist.")
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.name.endswith((".nii.gz", ".nii")))
    else:
        try:
            datalist = json.loads(source.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{group} set: {source} is neither a folder nor a datalist JSON ({err}).") from err
        if key is None or key not in datalist:
            raise ValueError(f"{group} set: datalist {source} has no key {key!r} (keys: {sorted(datalist)}).")
        paths = [source.parent / entry["image"] for entry in datalist[key]]
    if not paths:
        raise ValueError(f"{group} set: no NIfTI FOD images in {source}.")
    subjects = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{group} set: {path} (listed in {source}) does not exist.")
        img = nib.load(str(path))
        if img.ndim != 4:
            raise ValueError(f"{group} set: {path} is {img.ndim}D; an FOD image is 4D (x, y, z, SH coefficients).")
        try:
            lmax_from_n_coeffs(img.shape[3])
        except ValueError as err:
            raise ValueError(f"{group} set: {path} has {img.shape[3]} volumes, not an FOD image ({err}).") from err
        subjects.append(EvalSubject(group, _stem(path), path))
    names = [s.name for s in subjects]
    if len(set(names)) != len(names):
        raise ValueError(f"{group} set: file names in {source} are not unique: {names}.")
    return subjects


def check_common_grid(subjects: list[EvalSubject], atol_mm: float = 1e-3) -> tuple[tuple[int, ...], np.ndarray, int]:
    """(spatial shape, affine, SH count) shared by all ``subjects``; voxelwise comparisons need one grid.

    Raises:
        ValueError: naming the first image whose grid or SH count differs from the first image's.
    """
    first = nib.load(str(subjects[0].path))
    shape, affine, n_sh = first.shape[:3], np.asarray(first.affine, dtype=np.float64), first.shape[3]
    for s in subjects[1:]:
        img = nib.load(str(s.path))
        if img.shape[:3] != shape or not np.allclose(img.affine, affine, atol=atol_mm) or img.shape[3] != n_sh:
            raise ValueError(
                f"{s.group} set: {s.path} is on another grid than {subjects[0].path} (shape {img.shape} vs "
                f"{first.shape}, affine\n{np.round(img.affine, 4)}\nvs\n{np.round(affine, 4)}); every image must be on "
                "the training grid (resample with monai_fodgan.prepare or ResampleToGrid).")
    return tuple(shape), affine, int(n_sh)


def load_fod_array(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients (X, Y, Z, C) float32, affine (4, 4)) of an FOD NIfTI; MRtrix3 basis, world frame."""
    img = nib.load(str(path))
    return np.asarray(img.dataobj, dtype=np.float32), np.asarray(img.affine, dtype=np.float64)


def afd_map(fod: np.ndarray) -> np.ndarray:
    """Apparent fibre density per voxel (X, Y, Z): the FOD's integral over the sphere, c_00 * sqrt(4 pi)."""
    return fod[..., 0] * SQRT_4PI
