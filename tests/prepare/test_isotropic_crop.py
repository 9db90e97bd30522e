"""The isotropic crop (``--isotropic``, the demo's): the cohort's brain box widened about its centre so that the
training grid gets one spacing on every axis, holding the whole brain box. Ready FODs (16 x 16 x 8) keep it fast."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_fodgan.prepare.__main__ import main as prepare
from monai_fodgan.prepare.standardise import box_grid_affine, isotropic_box


@pytest.mark.parametrize("box, shape, spacing", [
    (np.array([[0.0, 0.0, 0.0], [100.0, 150.0, 60.0]]), (10, 10, 10), 15.0),   # y needs the largest spacing
    (np.array([[-80.0, -110.0, -70.0], [80.0, 75.0, 90.0]]), (56, 64, 56), 185.0 / 64),  # y: 2.89 mm, x and z 2.86
])
def test_isotropic_box_holds_the_box_with_one_spacing(box: np.ndarray, shape: tuple[int, ...], spacing: float) -> None:
    wide = isotropic_box(box, shape)
    np.testing.assert_allclose(np.diag(box_grid_affine(wide, shape))[:3], spacing)  # the spacing the box needs, all axes
    np.testing.assert_allclose(wide.mean(0), box.mean(0))  # same centre
    assert (wide[0] <= box[0] + 1e-9).all() and (wide[1] >= box[1] - 1e-9).all()  # holds the box
    tight = np.isclose(wide[1] - wide[0], box[1] - box[0])
    assert tight.any()  # the axis that sets the spacing is not widened


def test_prepare_isotropic_cohort_crop(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(tiny_fod_dataset / "fod", folder)
    table = tmp_path / "subjects.csv"
    table.write_text("subject,fod\n" + "".join(f"{p.name.split('.')[0]},{p}\n" for p in sorted(folder.glob("*.nii.gz"))[:3]))
    boxes = {}
    for isotropic in (False, True):
        out = tmp_path / f"set_{isotropic}"
        assert prepare(["--table", str(table), "--out", str(out), "--val", "1", "--shape", "8", "8", "8",
                        *(["--isotropic"] if isotropic else [])]) == 0
        datalist = json.loads((out / "datalist.json").read_text())
        spacing = nib.load(str(out / datalist["training"][0]["image"])).header.get_zooms()[:3]
        boxes[isotropic] = np.asarray(datalist["crop_box_mm"])
        assert datalist["isotropic"] is isotropic
        if isotropic:
            np.testing.assert_allclose(spacing, spacing[0], rtol=1e-5)
        else:  # the brain box of 16 x 16 x 8 phantom grids is not a cube: without the option the axes differ
            assert np.ptp(spacing) > 0.1 * max(spacing)
    np.testing.assert_allclose(boxes[True], isotropic_box(boxes[False], (8, 8, 8)))
