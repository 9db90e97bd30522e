"""Every NIfTI we write says its spatial unit is the millimetre (NIfTI's default is 'unknown')."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor

from monai_fodgan.io import save_fod, save_nifti


def test_save_nifti_and_save_fod_store_mm(tmp_path: Path) -> None:
    affine = np.diag([1.25, 1.6, 2.5, 1.0])
    save_nifti(np.zeros((4, 5, 6), np.uint8), affine, tmp_path / "mask.nii.gz", dtype=np.uint8)
    fod = MetaTensor(torch.zeros(28, 4, 5, 6), affine=torch.as_tensor(affine))
    fod[0] = 0.3
    save_fod(fod, tmp_path / "fod.nii.gz")
    for name in ("mask.nii.gz", "fod.nii.gz"):
        header = nib.load(tmp_path / name).header
        assert header.get_xyzt_units() == ("mm", "unknown")  # the 4th axis holds SH volumes, not time
        np.testing.assert_allclose(header.get_zooms()[:3], (1.25, 1.6, 2.5))


def test_phantom_and_prepared_files_store_mm(tiny_fod_dataset: Path) -> None:
    for path in sorted((tiny_fod_dataset / "fod").glob("*.nii.gz"))[:2]:
        assert nib.load(path).header.get_xyzt_units()[0] == "mm"
