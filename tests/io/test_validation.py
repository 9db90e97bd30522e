"""Bad FOD images are rejected with the file named; lmax-8 images truncate to lmax 6; .mif loads."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_fodgan.io import load_fod, save_fod, save_nifti
from monai_fodgan.transforms import ValidateSHImaged
from monai_fodgan.validation import FODValidationError


def _write(path: Path, data: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), str(path))
    return path


def test_3d_image_rejected_with_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "anat_T1w.nii.gz", np.zeros((4, 4, 4)))
    with pytest.raises(FODValidationError, match=r"anat_T1w\.nii\.gz.*4D"):
        load_fod(path)


@pytest.mark.parametrize("volumes", [27, 44, 2])
def test_non_sh_count_rejected_with_name(tmp_path: Path, volumes: int) -> None:
    path = _write(tmp_path / f"sub-01_{volumes}.nii", np.zeros((3, 3, 3, volumes)))
    with pytest.raises(FODValidationError, match=rf"sub-01_{volumes}\.nii.*{volumes} volumes is not an even-order"):
        load_fod(path)


def test_non_finite_rejected_with_name(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3, 28))
    data[1, 1, 1, 3] = np.nan
    data[0, 0, 0, 0] = np.inf
    with pytest.raises(FODValidationError, match=r"sub-02_fod\.nii.*2 NaN or infinite"):
        load_fod(_write(tmp_path / "sub-02_fod.nii", data))


def test_unreadable_and_missing(tmp_path: Path) -> None:
    junk = tmp_path / "junk.nii"
    junk.write_bytes(b"not a nifti file at all")
    with pytest.raises(FODValidationError, match="junk.nii"):
        load_fod(junk)
    with pytest.raises(FileNotFoundError, match="absent.nii"):
        load_fod(tmp_path / "absent.nii")


def test_lmax8_truncates_to_lmax6_on_request(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(3, 4, 5, 45))
    path = _write(tmp_path / "wm.nii", data)
    with pytest.raises(FODValidationError, match="truncate"):
        load_fod(path, lmax=6)
    img = load_fod(path, lmax=6, truncate=True)
    assert img.shape == (28, 3, 4, 5)
    np.testing.assert_allclose(img.numpy(), np.moveaxis(data[..., :28], -1, 0), rtol=1e-6)
    with pytest.raises(FODValidationError, match="lmax 8"):
        load_fod(_write(tmp_path / "low.nii", data[..., :28]), lmax=8)


def test_dictionary_validator_names_file(tmp_path: Path) -> None:
    img = load_fod(_write(tmp_path / "sub-03.nii", np.ones((3, 3, 3, 45))))
    out = ValidateSHImaged("image", lmax=6, truncate=True)({"image": img})
    assert out["image"].shape[0] == 28
    img[0, 0, 0, 0] = float("nan")
    with pytest.raises(FODValidationError, match="sub-03.nii"):
        ValidateSHImaged("image")({"image": img})


def test_mif_loads_like_nifti(shared_data: Path, mrtrix: None, real_wm_fod: Path) -> None:
    from_mif = load_fod(shared_data / "msmt_wm.mif", lmax=6, truncate=True)
    from_nii = load_fod(real_wm_fod)
    assert from_mif.shape == (28, 15, 15, 11)
    torch.testing.assert_close(from_mif.as_tensor(), from_nii.as_tensor()[:28])
    np.testing.assert_allclose(from_mif.affine.numpy(), from_nii.affine.numpy(), atol=1e-5)


def test_save_is_atomic_and_round_trips(tmp_path: Path) -> None:
    img = load_fod(_write(tmp_path / "a.nii", np.random.default_rng(1).normal(size=(4, 4, 4, 15))))
    out = save_fod(img, tmp_path / "out" / "b.nii.gz")
    torch.testing.assert_close(load_fod(out).as_tensor(), img.as_tensor())
    assert sorted(p.name for p in out.parent.iterdir()) == ["b.nii.gz"]  # no temporary left behind
    # a failing write leaves the existing file untouched and no temporary
    before = out.read_bytes()
    with pytest.raises(Exception):
        save_nifti(np.zeros((2, 2)), np.full((3, 3), np.nan), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["b.nii.gz"]


def test_atomic_output_gives_files_the_usual_permissions(tmp_path: Path) -> None:
    import os

    from monai_fodgan.io import atomic_output

    umask = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "x.json") as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(umask)
    mode = (tmp_path / "x.json").stat().st_mode & 0o777
    # group and others can read what we write (mkstemp alone would leave 0600)
    assert mode & 0o044 == 0o044
