"""Cropping and resampling: agree with MRtrix3's mrgrid, keep the affine right, the paper's HCP preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Invertd

from monai_fodgan.data import crossing_fibre_image, oblique_affine
from monai_fodgan.io import load_fod
from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.transforms import CropBraind, ResampleToGrid, ResampleToGridd, hcp_paper_crop


@pytest.mark.parametrize("size", [(10, 12, 8), (24, 20, 16)])
def test_resample_matches_mrgrid_on_real_fod(real_wm_fod: Path, tmp_path: Path, size: tuple[int, int, int]) -> None:
    img = load_fod(real_wm_fod)
    ours = ResampleToGrid(size)(img)
    run_mrtrix("mrgrid", real_wm_fod, "regrid", "-size", ",".join(map(str, size)), "-interp", "linear",
               "-oversample", "1", tmp_path / "ref.nii", "-force")
    ref = load_fod(tmp_path / "ref.nii")
    assert tuple(ours.shape[1:]) == size
    np.testing.assert_allclose(ours.affine.numpy(), ref.affine.numpy(), atol=1e-4)
    assert float(torch.linalg.norm(ours - ref) / torch.linalg.norm(ref)) < 1e-5


def test_resample_keeps_field_of_view_and_inverts_geometry() -> None:
    img = crossing_fibre_image(shape=(16, 16, 12), affine=oblique_affine(spacing=(1.5, 2.0, 2.5)))
    t = ResampleToGridd("image", spatial_size=(8, 8, 4))
    out = t({"image": img})["image"]
    spacing = np.linalg.norm(out.affine.numpy()[:3, :3], axis=0)
    np.testing.assert_allclose(spacing, [3.0, 4.0, 7.5])
    # the outer corner of the field of view (voxel edge at index -0.5) is the same point in both grids
    corner = lambda a, shape: a @ np.r_[np.asarray(shape) - 0.5, 1.0]
    np.testing.assert_allclose(corner(out.affine.numpy(), (8, 8, 4)), corner(img.affine.numpy(), (16, 16, 12)), atol=1e-9)
    back = Invertd("image", t, orig_keys="image")({"image": out})["image"]
    assert tuple(back.shape) == tuple(img.shape)
    np.testing.assert_allclose(back.affine.numpy(), img.affine.numpy(), atol=1e-9)


def test_crop_to_brain_by_l0_and_mask_updates_affine() -> None:
    data = torch.zeros(28, 20, 22, 18)
    data[0, 4:15, 6:17, 3:12] = 0.3
    data[5, 4:15, 6:17, 3:12] = 0.1
    aff = torch.from_numpy(oblique_affine())
    img = MetaTensor(data, affine=aff)
    out = CropBraind("image", source_key="image", margin=1)({"image": img})["image"]
    assert tuple(out.shape[1:]) == (13, 13, 11)
    # world position of the first kept voxel is the old voxel (3, 5, 2)
    np.testing.assert_allclose(out.affine.numpy()[:3, 3], (aff.numpy() @ np.array([3, 5, 2, 1.0]))[:3], atol=1e-6)
    mask = MetaTensor((data[:1] > 0).float(), affine=aff)
    both = CropBraind(["image", "mask"], source_key="mask")({"image": img, "mask": mask})
    assert tuple(both["image"].shape[1:]) == tuple(both["mask"].shape[1:]) == (11, 11, 9)


def test_hcp_paper_preset_grid_and_spacing() -> None:
    hcp_affine = np.diag([-1.25, 1.25, 1.25, 1.0])
    hcp_affine[:3, 3] = [90.0, -126.0, -72.0]
    img = MetaTensor(torch.rand(1, 145, 174, 145), affine=torch.from_numpy(hcp_affine))
    out = hcp_paper_crop("image")({"image": img})["image"]
    assert tuple(out.shape) == (1, 128, 128, 64)
    np.testing.assert_allclose(np.abs(np.diag(out.affine.numpy())[:3]), [1.25, 1.25 * 165 / 128, 2.5])
    # first voxel edge of the crop = edge of HCP voxel (10, 7, 2)
    edge = out.affine.numpy() @ np.array([-0.5, -0.5, -0.5, 1.0])
    np.testing.assert_allclose(edge, hcp_affine @ np.array([9.5, 6.5, 1.5, 1.0]), atol=1e-9)
