"""The phantom population: deterministic, brain-like, with crossings, AAL and bundles on its grid, and DWI
from which MRtrix3 recovers the ground-truth FODs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_fodgan.data.dwi_simulation import Responses, simulate_dwi
from monai_fodgan.data.phantom import DEMO_SHAPE, make_population, make_subject, mni_box
from monai_fodgan.io import load_fod
from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.sh import angular_correlation, fibonacci_sphere, sh_to_amplitudes
from monai_fodgan.prepare.gradients import read_fsl_gradients


@pytest.fixture(scope="module")
def subject():
    return make_subject(1, shape=(32, 32, 16), seed=0)


def test_deterministic_and_varied() -> None:
    a, b = make_subject(1, seed=0), make_subject(1, seed=0)
    np.testing.assert_array_equal(a.fod, b.fod)
    c = make_subject(2, seed=0)
    assert np.abs(a.fod - c.fod).mean() > 0.05 * np.abs(a.fod).mean()
    flat1, flat2 = make_subject(1, seed=0, variation=0.0), make_subject(2, seed=0, variation=0.0)
    np.testing.assert_allclose(flat1.fod, flat2.fod, atol=1e-6)


def test_brain_like_tissue_and_atlas(subject) -> None:
    assert 0.2 < subject.mask.mean() < 0.7  # a brain inside the field of view
    assert subject.wm[subject.mask].mean() > 0.2 and subject.gm[subject.mask].mean() > 0.2
    regions = np.unique(subject.aal[subject.aal > 0])
    assert len(regions) >= 100 and regions.max() <= 116
    left = np.array([subject.aal[..., z][: subject.aal.shape[0] // 2].astype(bool).sum() for z in range(16)]).sum()
    right = np.array([subject.aal[..., z][subject.aal.shape[0] // 2:].astype(bool).sum() for z in range(16)]).sum()
    assert 0.8 < left / right < 1.25  # symmetric-ish hemispheres


def test_demo_grid_is_isotropic_and_holds_the_brain() -> None:
    """The demo grid: 3.125 mm on every axis over the MNI box, every axis a multiple of 8 (the demo preset's three
    factor-2 stages), and the brain inside it (no brain voxel on the box's faces)."""
    from monai_fodgan.networks import build_alpha_wgan
    from monai_fodgan.prepare.standardise import box_grid_affine

    np.testing.assert_allclose(np.diag(box_grid_affine(mni_box(), DEMO_SHAPE))[:3], 3.125)
    build_alpha_wgan("demo", DEMO_SHAPE)  # raises when the stages cannot reach the grid
    s = make_subject(3, DEMO_SHAPE, seed=0)
    faces = [s.mask[0], s.mask[-1], s.mask[:, 0], s.mask[:, -1], s.mask[:, :, 0], s.mask[:, :, -1]]
    assert sum(int(f.sum()) for f in faces) <= 0.002 * s.mask.sum()


def test_bundles_are_white_matter_tubes(subject) -> None:
    """Every bundle is white matter along its whole course (no gap a tracker could not cross), and its ground-truth
    mask is where it fills at least half a voxel: the FOD there carries at least half the bundle's density."""
    afd = subject.fod[..., 0] * np.sqrt(4 * np.pi)
    for b, name in enumerate(subject.bundle_names):
        inside = subject.bundles[..., b] > 0
        assert inside.sum() >= 3, name
        assert subject.wm[inside].min() >= 0.2, name
        assert afd[inside].min() > 0.2, name


def _peak(coeffs: np.ndarray) -> np.ndarray:
    dirs = fibonacci_sphere(4000)
    return dirs[sh_to_amplitudes(torch.from_numpy(coeffs.astype(np.float64)), dirs).argmax(-1)].numpy()


def test_bundles_point_along_their_course(subject) -> None:
    names = subject.bundle_names
    only = subject.bundles.sum(-1) == 1  # voxels of exactly one bundle
    for name, axis in (("CC_body", 0), ("CST_L", 2), ("CST_R", 2), ("IFOF_L", 1)):
        vox = (subject.bundles[..., names.index(name)] > 0) & only
        assert vox.sum() >= 3, name
        peaks = _peak(subject.fod[vox])
        assert np.median(np.abs(peaks[:, axis])) > 0.7, name
    assert (subject.bundles.sum(-1) >= 2).sum() >= 5  # real crossings exist


def test_dwi_convention_reproduces_mrtrix_fit_of_real_data(shared_data: Path, mrtrix: None, tmp_path: Path) -> None:
    """Signal predicted from MRtrix3's own msmt_csd outputs with our convolution convention matches the real DWI."""
    for t in ("dwi", "gm", "csf", "mask"):
        extra = ["-export_grad_fsl", tmp_path / "g.bvec", tmp_path / "g.bval"] if t == "dwi" else []
        run_mrtrix("mrconvert", shared_data / f"msmt_{t}.mif", tmp_path / f"{t}.nii", *extra, "-force")
    img = nib.load(str(tmp_path / "dwi.nii"))
    dwi = np.asarray(img.dataobj, dtype=np.float64)
    table = read_fsl_gradients(tmp_path / "g.bval", tmp_path / "g.bvec", img.affine, dwi.shape[3])
    wm = np.moveaxis(load_fod(shared_data / "msmt_wm.mif").numpy(), 0, -1)
    gm, csf = (np.squeeze(np.asarray(nib.load(str(tmp_path / f"{t}.nii")).dataobj)) * np.sqrt(4 * np.pi) for t in ("gm", "csf"))
    responses = Responses.from_files(*(shared_data / f"msmt_{t}.txt" for t in ("wm", "gm", "csf")), bvals=(0, 700, 1200, 2800))
    pred = simulate_dwi(wm, gm, csf, table.bvals, table.bvecs, responses)
    mask = np.asarray(nib.load(str(tmp_path / "mask.nii")).dataobj) > 0
    rel = np.linalg.norm(pred[mask] - dwi[mask]) / np.linalg.norm(dwi[mask])
    print(f"relative residual of the real DWI against our prediction from MRtrix3's fit: {rel:.3f}")
    assert rel < 0.1


@pytest.mark.parametrize("snr,min_acc", [(0.0, 0.999), (30.0, 0.9)])
def test_mrtrix_recovers_ground_truth_fod(mrtrix: None, tmp_path: Path, snr: float, min_acc: float) -> None:
    root = make_population(tmp_path / "ph", n=1, snr=snr)
    dwi = root / "sub-0001" / "dwi" / "sub-0001"
    responses = tmp_path / "r"
    responses.mkdir()
    defaults = Responses.default()
    for t in ("wm", "gm", "csf"):
        np.savetxt(responses / f"{t}.txt", getattr(defaults, t))
    run_mrtrix("dwi2fod", "msmt_csd", f"{dwi}_dwi.nii.gz", "-fslgrad", f"{dwi}_dwi.bvec", f"{dwi}_dwi.bval",
               responses / "wm.txt", tmp_path / "wm.nii", responses / "gm.txt", tmp_path / "gm.nii",
               responses / "csf.txt", tmp_path / "csf.nii", "-mask", f"{dwi}_mask.nii.gz", "-lmax", "6,0,0")
    truth = load_fod(root / "derivatives" / "phantom" / "sub-0001" / "sub-0001_fod.nii.gz")
    recovered = load_fod(tmp_path / "wm.nii")
    wm = truth[0] > 0.1
    acc = float(angular_correlation(recovered[:, wm].T, truth[:, wm].T).nanmedian())
    ratio = float((recovered[0, wm] / truth[0, wm]).median())
    print(f"SNR {snr}: median ACC recovered vs ground truth over {int(wm.sum())} WM voxels {acc:.4f}, l=0 ratio {ratio:.3f}")
    assert acc >= min_acc and abs(ratio - 1) < 0.05


def test_population_command_and_prepare_both_backends(mrtrix: None, tmp_path: Path) -> None:
    root = tmp_path / "phantom"
    proc = subprocess.run([sys.executable, "-m", "monai_fodgan.data.phantom", "--out", str(root), "--n", "4",
                           "--shape", "32", "32", "16"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert len(list(root.glob("sub-*/dwi/*_dwi.nii.gz"))) == 4
    for backend in ("mrtrix", "dipy"):
        out = tmp_path / f"set_{backend}"
        proc = subprocess.run([sys.executable, "-m", "monai_fodgan.prepare", "--bids", str(root), "--out", str(out),
                               "--backend", backend, "--shape", "32", "32", "16", "--val", "1"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        import json

        datalist = json.loads((out / "datalist.json").read_text())
        assert len(datalist["training"]) == 3 and len(datalist["validation"]) == 1
        for entry in datalist["training"]:
            assert load_fod(out / entry["image"], lmax=6).shape == (28, 32, 32, 16)
        # the backend's own FOD (native grid = phantom grid) against the ground truth, estimated responses
        truth = load_fod(root / "derivatives" / "phantom" / "sub-0001" / "sub-0001_fod.nii.gz")
        native = load_fod(out / "native" / "sub-0001_fod.nii.gz")
        wm = truth[0] > 0.1
        acc = float(angular_correlation(native[:, wm].T, truth[:, wm].T).nanmedian())
        print(f"{backend} backend (estimated responses) vs phantom ground truth: median ACC {acc:.3f}")
        assert acc >= {"mrtrix": 0.9, "dipy": 0.8}[backend]
