"""Loading one subject's diffusion MRI with its gradient table, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.prepare.gradients import GradientError, GradientTable, read_fsl_gradients

__all__ = ["DWIInput", "LoadedDWI", "load_dwi", "DWIError"]


class DWIError(ValueError):
    """A subject's diffusion data cannot be used; the message names the subject and the file."""


@dataclass(frozen=True)
class DWIInput:
    """What a user gives for one subject: a DWI (NIfTI + FSL bval/bvec, or ``.mif`` with embedded gradients)
    with an optional brain mask, OR a ready FOD image (``fod``)."""

    subject: str
    dwi: Path | None = None
    bval: Path | None = None
    bvec: Path | None = None
    mask: Path | None = None
    fod: Path | None = None

    def check_files(self) -> None:
        """Raise :class:`DWIError` naming the subject when an input is missing or incomplete."""
        if self.dwi is None and self.fod is None:
            raise DWIError(f"subject {self.subject}: neither a DWI nor an FOD given.")
        for role in ("dwi", "bval", "bvec", "mask", "fod"):
            path = getattr(self, role)
            if path is not None and not Path(path).is_file():
                raise DWIError(f"subject {self.subject}: {role} file {path} not found.")


@dataclass
class LoadedDWI:
    """A subject's DWI as NIfTI on disk (for MRtrix3) and in memory (for DIPY). Gradients in the world frame."""

    nifti: Path
    bval: Path
    bvec: Path
    data: np.ndarray  # (X, Y, Z, N) float32
    affine: np.ndarray  # (4, 4) voxel -> world (RAS mm)
    gradients: GradientTable


def load_dwi(item: DWIInput, workdir: Path) -> LoadedDWI:
    """Read and check a subject's DWI: 4D, finite, gradients matching the volumes, a b = 0 volume.

    ``.mif`` input is converted with ``mrconvert`` (its embedded world-frame gradients exported as FSL files
    for the NIfTI written to ``workdir``).

    Raises:
        DWIError: any problem, with the subject and file named.
    """
    if item.dwi is None:
        raise DWIError(f"subject {item.subject}: no DWI given.")
    dwi = Path(item.dwi)
    if not dwi.is_file():
        raise DWIError(f"subject {item.subject}: {dwi}: file not found.")
    if dwi.suffix == ".mif" or dwi.name.endswith(".mif.gz"):
        nifti, bval, bvec = workdir / "dwi.nii", workdir / "dwi.bval", workdir / "dwi.bvec"
        try:
            run_mrtrix("mrconvert", dwi, nifti, "-export_grad_fsl", bvec, bval, "-datatype", "float32", "-force")
        except Exception as e:
            raise DWIError(f"subject {item.subject}: {dwi}: cannot convert ({e}).") from e
    else:
        if item.bval is None or item.bvec is None:
            raise DWIError(f"subject {item.subject}: {dwi}: NIfTI DWI needs --bval and --bvec files.")
        nifti, bval, bvec = dwi, Path(item.bval), Path(item.bvec)
    try:
        image = nib.load(str(nifti))
        data = np.asarray(image.dataobj, dtype=np.float32)
    except Exception as e:
        raise DWIError(f"subject {item.subject}: {dwi}: unreadable image ({type(e).__name__}: {e}).") from e
    if data.ndim != 4:
        raise DWIError(f"subject {item.subject}: {dwi}: expected a 4D DWI series, got {data.ndim}D shape {data.shape}.")
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise DWIError(f"subject {item.subject}: {dwi}: {bad} NaN or infinite voxel values.")
    try:
        gradients = read_fsl_gradients(bval, bvec, image.affine, data.shape[3])
    except GradientError as e:
        raise DWIError(f"subject {item.subject}: {e}") from e
    return LoadedDWI(nifti=nifti, bval=bval, bvec=bvec, data=data, affine=np.asarray(image.affine), gradients=gradients)
