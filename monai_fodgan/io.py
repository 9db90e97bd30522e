"""Reading and writing FOD images (NIfTI; MRtrix3 ``.mif`` through ``mrconvert``), atomically.

On disk an FOD image is 4D with the SH volumes LAST (NIfTI and MRtrix3 convention, (X, Y, Z, C));
in memory it is a channel-first MONAI ``MetaTensor`` (C, X, Y, Z) whose ``affine`` is the voxel-to-world
(RAS, mm) matrix. Coefficients stay in MRtrix3's basis and world frame; nothing is reoriented here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor

from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.validation import FODValidationError, check_fod_array

__all__ = ["atomic_output", "file_digest", "load_fod", "save_fod", "save_json", "save_nifti"]


#: errors of writing a file (not of reading an input inside the block): re-raised naming the output
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO}

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or error leaves any existing ``path`` untouched and no half-written file behind. An operating-system
    error (read-only folder, no permission, disk full) is raised naming ``path``, not the temporary name.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = "".join(path.suffixes) or ".tmp"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}-", suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from e
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp_path, path)
    except OSError as e:
        if e.errno not in _WRITE_ERRORS or e.filename == str(path):
            raise
        raise OSError(e.errno, e.strerror, str(path)) from e
    finally:
        tmp_path.unlink(missing_ok=True)


def save_json(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` as indented JSON (values JSON cannot hold, such as paths, as their ``str``), atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    return Path(path)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's CONTENTS (hex), read in 4 MiB chunks: what re-runs compare to skip finished work."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        image = nib.load(str(path))
        # one read into memory, keeping the file's Fortran order (no transposing copy)
        data = np.array(np.asanyarray(image.dataobj), dtype=np.float32, order="K", copy=True)
    except Exception as e:  # nibabel raises many types for unreadable files
        raise FODValidationError(f"{path}: cannot be read as NIfTI ({type(e).__name__}: {e}).") from e
    return data, np.asarray(image.affine, dtype=np.float64)


def _channel_first(data: np.ndarray) -> torch.Tensor:
    """(X, Y, Z, C) on-disk layout -> channel-first (C, X, Y, Z) tensor VIEW, without copying.

    The view is not C-contiguous (its storage is (C, Z, Y, X)); the transforms of this package work in that
    order directly, and other code may call ``.contiguous()``."""
    arr = np.asarray(data)
    if not arr.flags.f_contiguous:
        arr = np.asfortranarray(arr)
    return torch.from_numpy(arr.T).permute(0, 3, 2, 1)


def _volumes_last(data: torch.Tensor | np.ndarray) -> np.ndarray:
    """Channel-first (C, X, Y, Z) -> Fortran-contiguous (X, Y, Z, C) float32, what NIfTI writers stream fastest."""
    t = data.detach().cpu() if isinstance(data, torch.Tensor) else torch.from_numpy(np.asarray(data))
    t = t.float()
    if t.ndim == 4:
        return t.permute(0, 3, 2, 1).contiguous().numpy().T  # no copy when t came from load_fod
    return np.asfortranarray(t.numpy())


def load_fod(path: str | Path, lmax: int | None = None, truncate: bool = False) -> MetaTensor:
    """Load and validate an FOD image as a channel-first ``MetaTensor`` (C, X, Y, Z), float32.

    Args:
        path: ``.nii``/``.nii.gz``, ``.mif`` (converted with MRtrix3's ``mrconvert``), or a training array ``.npy``
            (:mod:`monai_fodgan.data.training_arrays`).
        lmax: required lmax; see :func:`monai_fodgan.validation.check_fod_array`.
        truncate: keep the first ``n_coeffs(lmax)`` volumes of a higher-lmax image.

    Raises:
        FileNotFoundError: the file does not exist.
        FODValidationError: unreadable, not 4D, not an SH volume count, non-finite values (message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    if path.suffix == ".npy":  # a float16 training array (monai_fodgan.data.training_arrays)
        from monai_fodgan.data.training_arrays import load_training_array

        return load_training_array(path, lmax=lmax, truncate=truncate)
    if path.suffix == ".mif" or path.name.endswith(".mif.gz"):
        with tempfile.TemporaryDirectory() as tmp:
            nii = Path(tmp) / "fod.nii"
            run_mrtrix("mrconvert", path, nii, "-strides", "1,2,3,4", "-datatype", "float32")
            data, affine = _read_nifti(nii)
    else:
        data, affine = _read_nifti(path)
    data = check_fod_array(data, str(path), lmax=lmax, truncate=truncate, channel_dim=-1)
    tensor = _channel_first(data)
    return MetaTensor(tensor, affine=torch.from_numpy(affine), meta={"filename_or_obj": str(path)})


def save_nifti(data: torch.Tensor | np.ndarray, affine: torch.Tensor | np.ndarray, path: str | Path,
               dtype: type = np.float32) -> Path:
    """Write a channel-first (C, X, Y, Z) or 3D array as NIfTI (volumes last), atomically.

    ``dtype`` is the stored type: float32 for FODs and DWI, an integer type for masks and labels. Spatial units are
    stored as millimetres (``xyzt_units``; NIfTI's default is "unknown", which some viewers read as no scale); the
    4th axis holds volumes, not time, so its unit stays unknown."""
    aff = affine.detach().cpu().numpy() if isinstance(affine, torch.Tensor) else np.asarray(affine)
    image = nib.Nifti1Image(_volumes_last(data).astype(dtype, order="K", copy=False), aff.astype(np.float64))
    image.set_sform(aff, code=1)
    image.set_qform(aff, code=1)
    image.header.set_xyzt_units(xyz="mm")
    with atomic_output(path) as tmp:
        nib.save(image, str(tmp))
    return Path(path)


def save_fod(img: torch.Tensor, path: str | Path, affine: torch.Tensor | np.ndarray | None = None) -> Path:
    """Write a channel-first FOD image (C, X, Y, Z) as float32 NIfTI loadable by MRtrix3 and DIPY.

    Args:
        img: the image; a ``MetaTensor`` carries its own affine.
        path: output ``.nii`` or ``.nii.gz``; written to a temporary name first, then renamed.
        affine: voxel-to-world matrix; required when ``img`` is not a ``MetaTensor``.
    """
    if affine is None:
        if not isinstance(img, MetaTensor):
            raise ValueError(f"{path}: an affine is needed to save a plain tensor.")
        affine = img.affine
    check_fod_array(img, str(path))
    return save_nifti(img, affine, path)
