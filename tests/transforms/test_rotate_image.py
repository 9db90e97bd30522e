"""Image rotation: agrees with MRtrix3's mrtransform -reorient_fod on real and synthetic oblique images,
moves a uniform fibre field analytically, batches, inverts, and randomises as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd

from monai_fodgan.data import crossing_fibre_image, fibre_lobe, oblique_affine
from monai_fodgan.geometry import image_center, rotation_from_angles
from monai_fodgan.io import load_fod, save_fod
from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.sh import angular_correlation, fibonacci_sphere, sh_to_amplitudes
from monai_fodgan.transforms import RandSHRotate, RandSHRotated, SHRotate, SHRotated, paper_rotation

TEN_DEG = float(np.deg2rad(10.0))


def _mrtransform_rotate(src: Path, rotation: torch.Tensor, out: Path) -> MetaTensor:
    """MRtrix3's reference: T maps output points to input points, [R^T | c - R^T c] (SPEC section 3)."""
    img = load_fod(src)
    r = rotation.numpy()
    c = image_center(img.affine, img.shape[1:]).numpy()
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = r.T, c - r.T @ c
    np.savetxt(out.with_suffix(".txt"), t)
    run_mrtrix("mrtransform", src, "-linear", out.with_suffix(".txt"), "-template", src, "-interp", "linear",
               "-oversample", "1", "-reorient_fod", "yes", out, "-force")
    return load_fod(out)


def _fully_inside(img: MetaTensor, rotation: torch.Tensor) -> torch.Tensor:
    """Voxels whose source point has all 8 interpolation neighbours inside the grid."""
    ones = MetaTensor(torch.ones(1, *img.shape[1:], dtype=torch.float64), affine=img.affine)
    return SHRotate(rotation=rotation)(ones)[0] > 1 - 1e-9


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_real_oblique_fod_matches_mrtransform(real_wm_fod: Path, tmp_path: Path, axis: int) -> None:
    img = load_fod(real_wm_fod)
    angles = [0.0, 0.0, 0.0]
    angles[axis] = TEN_DEG
    r = rotation_from_angles(angles)
    ours = SHRotate(rotation=r)(img)
    ref = _mrtransform_rotate(real_wm_fod, r, tmp_path / "ref.nii")
    voxels = _fully_inside(img, r) & (ref[0] > 0.05)  # interior white-matter-ish voxels
    assert voxels.sum() > 200
    a, b = ours[:, voxels].T, ref[:, voxels].T
    acc = angular_correlation(a, b)
    rel = float(torch.linalg.norm(a - b) / torch.linalg.norm(b))
    print(f"axis {axis}: {int(voxels.sum())} voxels, median ACC {float(acc.nanmedian()):.6f}, min {float(acc.min()):.6f}, rel err {rel:.2e}")
    assert float(acc.nanmedian()) >= 0.99 and float(acc.min()) > 0.99
    assert rel < 1e-3
    # and the rotation did something: the unrotated input is far from the reference
    assert float(angular_correlation(img[:, voxels].T, b).nanmedian()) < 0.95


def test_synthetic_crossing_oblique_matches_mrtransform(mrtrix: None, tmp_path: Path) -> None:
    img = crossing_fibre_image(shape=(16, 16, 12), affine=oblique_affine())
    src = save_fod(img, tmp_path / "crossing.nii")
    r = rotation_from_angles(np.deg2rad([10.0, -15.0, 20.0]))
    ours = SHRotate(rotation=r)(img)
    ref = _mrtransform_rotate(src, r, tmp_path / "ref.nii")
    voxels = _fully_inside(img, r)
    a, b = ours[:, voxels].T, ref[:, voxels].T
    assert float(torch.linalg.norm(a - b) / torch.linalg.norm(b)) < 1e-4
    assert float(angular_correlation(a, b).min()) > 0.999


def test_uniform_fibre_field_peaks_follow_rotation() -> None:
    v = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    lobe = fibre_lobe(v, 8).float()
    img = MetaTensor(lobe[:, None, None, None].expand(45, 9, 9, 9).clone(), affine=torch.from_numpy(oblique_affine()))
    r = rotation_from_angles(np.deg2rad([0.0, 30.0, 40.0]))
    out = SHRotate(rotation=r)(img)
    centre = out[:, 4, 4, 4].double()
    dirs = fibonacci_sphere(20000)
    peak = dirs[sh_to_amplitudes(centre, dirs).argmax()]
    assert abs(float(peak @ (r @ v))) > 0.999


def test_batched_rotation_equals_per_image() -> None:
    img = crossing_fibre_image(shape=(10, 10, 8), lmax=6)
    rs = torch.stack([rotation_from_angles(np.deg2rad(a)) for a in ([5, 0, 0], [0, 8, 0], [0, 0, -12])])
    batch = torch.stack([img.as_tensor()] * 3)
    out = SHRotate()(batch, rotation=rs, affine=img.affine)
    for i in range(3):
        torch.testing.assert_close(out[i], SHRotate(rotation=rs[i])(img).as_tensor(), atol=1e-5, rtol=0)


def _linear_field_image(shape=(16, 16, 12)) -> MetaTensor:
    """A fibre lobe scaled by a field linear in world position: trilinear interpolation reproduces it exactly."""
    aff = torch.from_numpy(oblique_affine())
    lobe = fibre_lobe(torch.tensor([0.3, 0.8, 0.5]), 6)
    idx = torch.stack(torch.meshgrid(*[torch.arange(s, dtype=torch.float64) for s in shape], indexing="ij"), -1)
    world = idx @ aff[:3, :3].T + aff[:3, 3]
    weight = 1.0 + 0.02 * world @ torch.tensor([1.0, -0.5, 0.7], dtype=torch.float64)
    return MetaTensor((weight[None] * lobe[:, None, None, None]).float(), affine=aff)


def test_inverse_and_invertd_restore_interior() -> None:
    img = _linear_field_image()
    r = rotation_from_angles(np.deg2rad([3.0, -2.0, 4.0]))
    xform = Compose([SHRotated("image", rotation=r)])
    out = xform({"image": img})
    assert len(out["image"].applied_operations) == 1
    assert float(torch.linalg.norm(out["image"] - img)) > 0.01 * float(torch.linalg.norm(img))
    back = Invertd("image", xform, orig_keys="image")(out)["image"]
    assert len(back.applied_operations) == 0
    inner = (slice(None), slice(3, -3), slice(3, -3), slice(3, -3))
    err = float(torch.linalg.norm(back[inner] - img[inner]) / torch.linalg.norm(img[inner]))
    assert err < 1e-5  # linear fields survive linear interpolation exactly, so only a wrong inverse shows


def test_rand_rotated_is_seeded_and_moves_mask_too() -> None:
    img = crossing_fibre_image(shape=(12, 12, 10), lmax=6)
    mask = MetaTensor((img.as_tensor()[:1] > 0.05).float(), affine=img.affine)
    make = lambda: RandSHRotated(["image", "mask"], range_z=0.3, prob=1.0, mode=["bilinear", "nearest"]).set_random_state(seed=7)
    a, b = make()({"image": img, "mask": mask}), make()({"image": img, "mask": mask})
    torch.testing.assert_close(a["image"], b["image"])
    assert set(torch.unique(a["mask"]).tolist()) <= {0.0, 1.0}
    assert not torch.allclose(a["image"], img)


def test_rand_rotate_prob_zero_is_identity_and_invertible() -> None:
    img = crossing_fibre_image(shape=(8, 8, 6), lmax=4)
    t = RandSHRotate(range_x=0.5, prob=0.0)
    out = t(img)
    torch.testing.assert_close(out.as_tensor(), img.as_tensor())
    assert len(t.inverse(out).applied_operations) == 0


def test_paper_distribution_single_axis_gaussian_one_degree() -> None:
    t = RandSHRotate(*(np.deg2rad(1.0),) * 3, prob=1.0, distribution="gaussian", single_axis=True)
    t.set_random_state(seed=0)
    draws = []
    for _ in range(3000):
        t.randomize()
        draws.append(t.angles.copy())
    draws = np.rad2deg(np.asarray(draws))
    assert ((draws != 0).sum(axis=1) == 1).all()  # exactly one axis each time
    nonzero = draws[draws != 0]
    assert abs(nonzero.std() - 1.0) < 0.05 and abs(nonzero.mean()) < 0.06
    assert min((draws[:, a] != 0).mean() for a in range(3)) > 0.28  # each axis chosen about a third of the time


def test_paper_preset_three_axes() -> None:
    preset = paper_rotation("image", three_axes=True).set_random_state(seed=1)
    preset.randomize()
    assert (preset.rand_rotate.angles != 0).all()
    assert np.abs(np.rad2deg(preset.rand_rotate.angles)).max() < 5


def test_uniform_range_respected() -> None:
    t = RandSHRotate(range_x=(0.1, 0.2), prob=1.0).set_random_state(seed=3)
    for _ in range(200):
        t.randomize()
        assert 0.1 <= t.angles[0] <= 0.2 and t.angles[1] == t.angles[2] == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_stays_on_device() -> None:
    img = crossing_fibre_image(shape=(12, 12, 10), lmax=6)
    r = rotation_from_angles(np.deg2rad([5.0, 5.0, 5.0]))
    out = SHRotate(rotation=r)(img.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu().as_tensor(), SHRotate(rotation=r)(img).as_tensor(), atol=1e-5, rtol=0)


def test_rejects_non_orthogonal() -> None:
    with pytest.raises(ValueError, match="not orthogonal"):
        SHRotate(rotation=np.diag([1.0, 2.0, 1.0]))
