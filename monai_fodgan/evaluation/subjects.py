"""Which FOD images are evaluated: the three sets (synthetic, reference, training) and how to read them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.sh import lmax_from_n_coeffs

__all__ = ["EvalSubject", "collect_subjects", "check_common_grid", "check_images", "load_fod_array", "afd_map", "SQRT_4PI"]

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
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{group} set: {source} is neither a folder nor a datalist JSON ({err}).") from None
        if not isinstance(datalist, dict) or key is None or key not in datalist:
            keys = sorted(datalist) if isinstance(datalist, dict) else type(datalist).__name__
            raise ValueError(f"{group} set: datalist {source} has no key {key!r} (keys: {keys}).")
        try:
            paths = [source.parent / entry["image"] for entry in datalist[key]]
        except (KeyError, TypeError) as err:
            raise ValueError(f"{group} set: datalist {source}: every entry of {key!r} needs an 'image' path ({err!r}).") from None
    if not paths:
        raise ValueError(f"{group} set: no NIfTI FOD images in {source}.")
    subjects = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{group} set: {path} (listed in {source}) does not exist.")
        try:
            img = nib.load(str(path))
        except Exception as err:  # nibabel raises several types for files that are not images
            raise ValueError(f"{group} set: {path} cannot be read as NIfTI ({type(err).__name__}: {err}).") from None
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


def _grid(img: nib.Nifti1Image) -> tuple[tuple[int, ...], np.ndarray, int]:
    return tuple(img.shape[:3]), np.asarray(img.affine, dtype=np.float64), int(img.shape[3])


def check_common_grid(subjects: list[EvalSubject], atol_mm: float = 1e-3) -> tuple[tuple[int, ...], np.ndarray, int]:
    """(spatial shape, affine, SH count) shared by all ``subjects``; voxelwise comparisons need one grid.

    The common grid is the one most reference images share (all images when there is no reference set), so the
    error names the image that differs, not whichever came second.

    Raises:
        ValueError: naming every image whose grid or SH count differs from the common one.
    """
    grids = [(s, _grid(nib.load(str(s.path)))) for s in subjects]

    def same(a: tuple, b: tuple) -> bool:
        return a[0] == b[0] and a[2] == b[2] and bool(np.allclose(a[1], b[1], atol=atol_mm))

    pool = [g for g in grids if g[0].group == "reference"] or grids
    votes: list[list] = []  # [grid, members]
    for s, grid in pool:
        for vote in votes:
            if same(vote[0], grid):
                vote[1].append(s)
                break
        else:
            votes.append([grid, [s]])
    common, members = max(votes, key=lambda v: len(v[1]))  # first of the largest on a tie
    odd = [(s, grid) for s, grid in grids if not same(grid, common)]
    if odd:
        s, grid = odd[0]
        where = "reference" if pool[0][0].group == "reference" else "input"
        others = f" (also on other grids: {', '.join(str(o.path) for o, _ in odd[1:6])}{' ...' if len(odd) > 6 else ''})" if len(odd) > 1 else ""
        raise ValueError(
            f"{s.group} set: {s.path} is on another grid than the {where} images (shape {grid[0]} x {grid[2]} vs "
            f"{common[0]} x {common[2]}, as {len(members)} of {len(pool)} {where} images, e.g. {members[0].path}; affine "
            f"{np.round(grid[1], 4).tolist()} vs {np.round(common[1], 4).tolist()}){others}; every image must be on the "
            "training grid (resample with monai_fodgan.prepare or ResampleToGrid).")
    return common[0], common[1], common[2]


def check_images(subjects: list[EvalSubject]) -> None:
    """Read every image whole: finite values only, data readable to the end (not truncated).

    A NaN voxel would otherwise turn thousands of metrics silently into nulls.

    Raises:
        ValueError: naming the first bad file and what is wrong with it.
    """
    for s in subjects:
        try:
            data = np.asanyarray(nib.load(str(s.path)).dataobj)
        except Exception as err:  # truncated or corrupt data: nibabel, gzip and zlib raise several types
            raise ValueError(f"{s.group} set: {s.path} cannot be read to the end ({type(err).__name__}: {err}).") from None
        if np.issubdtype(data.dtype, np.floating):
            bad = int(data.size - np.count_nonzero(np.isfinite(data)))
            if bad:
                first = tuple(int(i) for i in np.argwhere(~np.isfinite(data))[0])
                raise ValueError(f"{s.group} set: {s.path} holds {bad} NaN or infinite values (the first at voxel "
                                 f"{first[:3]}, volume {first[3]}); an FOD image must be finite everywhere.")
        del data


def load_fod_array(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients (X, Y, Z, C) float32, affine (4, 4)) of an FOD NIfTI; MRtrix3 basis, world frame."""
    img = nib.load(str(path))
    return np.asarray(img.dataobj, dtype=np.float32), np.asarray(img.affine, dtype=np.float64)


def afd_map(fod: np.ndarray) -> np.ndarray:
    """Apparent fibre density per voxel (X, Y, Z): the FOD's integral over the sphere, c_00 * sqrt(4 pi)."""
    return fod[..., 0] * SQRT_4PI
