"""SH-aware mirroring: equals MRtrix3's reflection with -reorient_fod, mirrors fibres, inverts itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_fodgan.data import crossing_fibre_image, fibre_lobe, oblique_affine
from monai_fodgan.geometry import image_center
from monai_fodgan.io import load_fod, save_fod
from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.sh import fibonacci_sphere, sh_to_amplitudes
from monai_fodgan.transforms import RandSHFlipd, SHFlip, SHFlipd


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_matches_mrtransform_reflection(mrtrix: None, tmp_path: Path, axis: int) -> None:
    img = crossing_fibre_image(shape=(12, 14, 10), affine=oblique_affine())
    src = save_fod(img, tmp_path / "in.nii")
    aff = img.affine.numpy()
    n = aff[:3, axis] / np.linalg.norm(aff[:3, axis])  # world direction of the voxel axis
    f = np.eye(3) - 2 * np.outer(n, n)
    c = image_center(aff, img.shape[1:]).numpy()
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = f, c - f @ c
    np.savetxt(tmp_path / "t.txt", t)
    run_mrtrix("mrtransform", src, "-linear", tmp_path / "t.txt", "-template", src, "-interp", "linear",
               "-oversample", "1", "-reorient_fod", "yes", tmp_path / "ref.nii", "-force")
    ref = load_fod(tmp_path / "ref.nii")
    ours = SHFlip(axis)(img)
    assert float(torch.linalg.norm(ours - ref) / torch.linalg.norm(ref)) < 1e-5


def test_left_right_flip_mirrors_fibre_direction() -> None:
    v = torch.tensor([0.8, 0.5, 0.33], dtype=torch.float64)
    v = v / v.norm()
    img = MetaTensor(fibre_lobe(v, 8).float()[:, None, None, None].expand(45, 4, 4, 4).clone(), affine=torch.eye(4))
    out = SHFlip(0)(img)
    dirs = fibonacci_sphere(20000)
    peak = dirs[sh_to_amplitudes(out[:, 1, 2, 3].double(), dirs).argmax()]
    mirrored = torch.tensor([-v[0], v[1], v[2]])
    assert abs(float(peak @ mirrored)) > 0.999


def test_flip_twice_is_identity_and_inverse() -> None:
    img = crossing_fibre_image(shape=(8, 8, 6), affine=oblique_affine())
    t = SHFlipd("image", spatial_axis=(0, 2))
    out = t({"image": img})
    assert not torch.allclose(out["image"], img)
    torch.testing.assert_close(t.inverse(out)["image"].as_tensor(), img.as_tensor(), atol=1e-5, rtol=0)
    torch.testing.assert_close(SHFlip((0, 2))(SHFlip((0, 2))(img)).as_tensor(), img.as_tensor(), atol=1e-5, rtol=0)


def test_rand_flip_seeded_and_invertible() -> None:
    img = crossing_fibre_image(shape=(8, 8, 6))
    t = RandSHFlipd("image", prob=0.5).set_random_state(seed=0)
    flipped = 0
    for _ in range(20):
        out = t({"image": img.clone()})
        flipped += not torch.allclose(out["image"], img)
        torch.testing.assert_close(t.inverse(out)["image"].as_tensor(), img.as_tensor(), atol=1e-5, rtol=0)
    assert 3 <= flipped <= 17
