"""The float16 training arrays and the rotation augmentation on the device: the same training data as the NIfTI
path (to float16 rounding) and the same rotations as the loader draws."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import load_decathlon_datalist
from monai.transforms import Compose, EnsureTyped

from monai_fodgan.data import FODStreamDataset, check_datalist, grid_affine
from monai_fodgan.data.training_arrays import load_training_array, write_training_arrays
from monai_fodgan.io import load_fod
from monai_fodgan.transforms import BatchRandSHRotate, LoadFODd, paper_rotation
from monai_fodgan.validation import FODValidationError
from tests.conftest import REPO_ROOT, TINY_SHAPE


@pytest.fixture()
def dataset(tiny_fod_dataset: Path, tmp_path: Path) -> Path:
    out = tmp_path / "dataset"
    shutil.copytree(tiny_fod_dataset, out)
    return out


def test_arrays_hold_the_nifti_values_to_float16_rounding(dataset: Path) -> None:
    datalist = write_training_arrays(dataset, progress=False)
    arrays = load_decathlon_datalist(str(datalist), False, "training")
    nifti = load_decathlon_datalist(str(dataset / "datalist.json"), False, "training")
    assert len(arrays) == len(nifti) == 6
    check_datalist(arrays, lmax=6, spatial_shape=TINY_SHAPE)
    for a, n in zip(arrays, nifti):
        assert a["subject"] == n["subject"]
        stored = np.load(a["image"], mmap_mode="r")
        assert stored.dtype == np.float16 and stored.flags.c_contiguous and stored.shape == (28, *TINY_SHAPE)
        img, ref = load_fod(a["image"], lmax=6), load_fod(n["image"], lmax=6)
        torch.testing.assert_close(img.affine, ref.affine.to(img.affine.dtype))
        # float16: relative rounding 2^-11 of each value (absolute 2^-24 in the subnormal range)
        assert torch.all((img - ref).abs() <= ref.abs() * 2**-11 + 2**-24)
        assert not torch.equal(img, ref)  # it is a float16 copy, not the float32 file


def test_unchanged_sources_are_not_rewritten_and_changed_ones_are(dataset: Path) -> None:
    write_training_arrays(dataset, progress=False)
    first = dataset / "training_arrays" / "sub-0001.npy"
    stamp = first.stat().st_mtime_ns
    write_training_arrays(dataset, progress=False)
    assert first.stat().st_mtime_ns == stamp
    source = dataset / "fod" / "sub-0001.nii.gz"
    shutil.copy(dataset / "fod" / "sub-0002.nii.gz", source)
    write_training_arrays(dataset, progress=False)
    assert first.stat().st_mtime_ns != stamp
    np.testing.assert_array_equal(np.load(first), np.load(dataset / "training_arrays" / "sub-0002.npy"))


def test_bad_array_and_missing_grid_are_named(dataset: Path) -> None:
    write_training_arrays(dataset, progress=False)
    bad = dataset / "training_arrays" / "sub-0001.npy"
    np.save(bad, np.zeros((28, 4, 4, 4), np.float16))
    with pytest.raises(FODValidationError, match="sub-0001.npy.*grid"):
        load_training_array(bad)
    (dataset / "training_arrays" / "grid.json").unlink()
    with pytest.raises(FODValidationError, match="sub-0002.npy: no grid.json"):
        load_fod(dataset / "training_arrays" / "sub-0002.npy")


def test_command_line_writes_the_arrays(dataset: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "monai_fodgan.data.training_arrays", str(dataset)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lists = json.loads((dataset / "training_arrays_datalist.json").read_text())
    assert [e["image"] for e in lists["validation"]] == ["training_arrays/sub-0007.npy", "training_arrays/sub-0008.npy"]
    missing = subprocess.run([sys.executable, "-m", "monai_fodgan.data.training_arrays", str(dataset / "nope")],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "nope/datalist.json: no such file" in missing.stdout


def test_rotation_on_the_device_equals_the_loader_rotation(tiny_fod_dataset: Path) -> None:
    """The same angles, drawn per stream position, and the same rotated images (float32 rounding)."""
    data = load_decathlon_datalist(str(tiny_fod_dataset / "datalist.json"), False, "training")
    load = LoadFODd("image", lmax=6)
    rotation = paper_rotation("image", prob=0.7)
    in_loader = FODStreamDataset(data, load, Compose([rotation, EnsureTyped("image", track_meta=False)]), seed=3)
    plain = FODStreamDataset(data, load, Compose([EnsureTyped("image", track_meta=False)]), seed=3)
    on_device = BatchRandSHRotate(Compose([paper_rotation("image", prob=0.7)]), grid_affine(data[0]["image"]), seed=3)
    positions = list(range(40, 52))
    expected = torch.stack([torch.as_tensor(in_loader[p]["image"]) for p in positions])
    batch = torch.stack([torch.as_tensor(plain[p]["image"]) for p in positions])
    assert [plain[p]["position"] for p in positions] == positions
    drawn = on_device.rotations(positions)
    assert 0 < sum(r is None for r in drawn) < len(drawn)  # prob 0.7: some drawn, some not
    rotated = on_device(batch, torch.tensor(positions))
    torch.testing.assert_close(rotated, expected, rtol=1e-5, atol=1e-6)
    moved = [i for i, r in enumerate(drawn) if r is not None]
    assert not torch.allclose(rotated[moved], batch[moved])  # the rotations did move the images


def test_prepare_writes_the_arrays_when_asked(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    cmd = [sys.executable, "-m", "monai_fodgan.prepare", "--fod", str(tiny_fod_dataset / "fod" / "sub-0001.nii.gz"),
           "--out", str(out), "--shape", *map(str, TINY_SHAPE), "--val", "0", "--training-arrays"]
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    (entry,) = load_decathlon_datalist(str(out / "training_arrays_datalist.json"), False, "training")
    (nifti,) = load_decathlon_datalist(str(out / "datalist.json"), False, "training")
    ref = load_fod(nifti["image"])
    assert torch.all((load_fod(entry["image"]) - ref).abs() <= ref.abs() * 2**-11 + 2**-24)
