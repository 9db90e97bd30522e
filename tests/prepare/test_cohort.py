"""The prepare command on real data with both backends, re-runs skipped by hash, and bad subjects reported
by name while the others finish."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_fodgan.io import load_fod
from monai_fodgan.mrtrix import run_mrtrix
from monai_fodgan.prepare import PrepareConfig, prepare_cohort, read_table, split_subjects
from monai_fodgan.transforms import NormalizeSH, SHNormalization
from monai_fodgan.transforms.functional import resample_world


def _prepare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monai_fodgan.prepare", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("backend", ["mrtrix", "dipy"])
def test_cli_real_dwi_to_training_set(shared_data: Path, mrtrix: None, tmp_path: Path, backend: str) -> None:
    out = tmp_path / "set"
    proc = _prepare("--dwi", str(shared_data / "msmt_dwi.mif"), "--out", str(out), "--shape", "16", "16", "12",
                    "--backend", backend)
    assert proc.returncode == 0, proc.stderr
    datalist = json.loads((out / "datalist.json").read_text())
    assert [d["subject"] for d in datalist["training"]] == ["msmt_dwi"]
    record = json.loads((out / "native" / "msmt_dwi.json").read_text())
    assert record["backend"] == backend and record["seconds"] > 0
    assert ("mrtrix_version" if backend == "mrtrix" else "dipy_version") in record
    std = load_fod(out / datalist["training"][0]["image"], lmax=6)
    assert tuple(std.shape) == (28, 16, 16, 12)
    aff = std.affine.numpy()
    assert np.allclose(aff[:3, :3], np.diag(np.diag(aff[:3, :3]))) and (np.diag(aff)[:3] > 0).all()  # axis-aligned RAS
    # the standard grid is a plain resampling of the native FOD (no reorientation): compare with MRtrix3's mrgrid
    native = out / "native" / "msmt_dwi_fod.nii.gz"
    run_mrtrix("mrgrid", native, "regrid", "-template", out / datalist["training"][0]["image"], "-interp", "linear",
               "-oversample", "1", tmp_path / "ref.nii", "-force")
    ref = load_fod(tmp_path / "ref.nii")
    nat = load_fod(native)
    inside = resample_world(torch.ones(1, *nat.shape[1:], dtype=torch.float64), nat.affine, std.affine, std.shape[1:])[0] > 1 - 1e-9
    assert inside.sum() > 500
    assert float(torch.linalg.norm(std[:, inside] - ref[:, inside]) / torch.linalg.norm(ref[:, inside])) < 1e-4
    # statistics map the training set into [-1, 1]
    stats = SHNormalization.load(out / "sh_stats.json")
    assert float(NormalizeSH(stats)(std).abs().max()) <= 1 + 1e-6


def test_rerun_skips_by_content_hash(shared_data: Path, mrtrix: None, tmp_path: Path) -> None:
    fod = tmp_path / "wm.mif"
    shutil.copy(shared_data / "msmt_wm.mif", fod)
    cfg = PrepareConfig(out=tmp_path / "set", shape=(8, 8, 6))
    first = prepare_cohort(read_table(_table(tmp_path, [("s1", "fod", fod)])), cfg, progress=False)
    assert first["done"] == 1
    fod.touch()  # newer file, same content: still skipped
    assert prepare_cohort(read_table(tmp_path / "subjects.csv"), cfg, progress=False)["skipped"] == 1
    cfg.lmax = 4  # a parameter that shapes the FOD changed: recomputed
    again = prepare_cohort(read_table(tmp_path / "subjects.csv"), cfg, progress=False)
    assert again["done"] == 1 and load_fod(tmp_path / "set" / "fod" / "s1.nii.gz").shape[0] == 15


def _table(folder: Path, rows: list[tuple]) -> Path:
    lines = ["subject,dwi,bval,bvec,mask,fod"]
    for subject, kind, *paths in rows:
        if kind == "fod":
            lines.append(f"{subject},,,,,{paths[0]}")
        else:
            lines.append(f"{subject},{paths[0]},{paths[1]},{paths[2]},,")
    (folder / "subjects.csv").write_text("\n".join(lines) + "\n")
    return folder / "subjects.csv"


def test_bad_subjects_named_others_finish(real_dwi_nifti: dict, tmp_path: Path) -> None:
    dwi, bval, bvec = real_dwi_nifti["dwi"], real_dwi_nifti["bval"], real_dwi_nifti["bvec"]
    img = nib.load(str(dwi))
    data = np.asarray(img.dataobj, dtype=np.float32)
    bad = tmp_path / "bad"
    bad.mkdir()
    nib.save(nib.Nifti1Image(data[..., 0], img.affine), str(bad / "three_d.nii.gz"))
    nan = data.copy()
    nan[5, 5, 5, 3] = np.nan
    nib.save(nib.Nifti1Image(nan, img.affine), str(bad / "nan.nii.gz"))
    bvals = np.loadtxt(bval)
    np.savetxt(bad / "short.bval", bvals[None, :-1], fmt="%g")
    np.savetxt(bad / "no_b0.bval", np.where(bvals < 50, 1000, bvals)[None], fmt="%g")
    (bad / "junk.nii.gz").write_bytes(b"\x00not an image")
    table = _table(tmp_path, [
        ("good", "dwi", dwi, bval, bvec),
        ("missing_bvec", "dwi", dwi, bval, bad / "absent.bvec"),
        ("mismatched", "dwi", dwi, bad / "short.bval", bvec),
        ("three_d", "dwi", bad / "three_d.nii.gz", bval, bvec),
        ("no_b0", "dwi", dwi, bad / "no_b0.bval", bvec),
        ("nans", "dwi", bad / "nan.nii.gz", bval, bvec),
        ("unreadable", "dwi", bad / "junk.nii.gz", bval, bvec),
    ])
    proc = _prepare("--table", str(table), "--out", str(tmp_path / "set"), "--shape", "8", "8", "6", "--backend", "dipy", "--jobs", "2")
    assert proc.returncode == 1
    summary = json.loads((tmp_path / "set" / "summary.json").read_text())
    errors = {f["subject"]: f["error"] for f in summary["failed"]}
    expected = {"missing_bvec": "absent.bvec", "mismatched": "short.bval has 101 values", "three_d": "4D",
                "no_b0": "no b = 0", "nans": "NaN", "unreadable": "junk.nii.gz"}
    assert set(errors) == set(expected)
    for subject, fragment in expected.items():
        assert fragment in errors[subject] and subject in errors[subject], errors[subject]
        assert f"FAILED {subject}" in proc.stderr
    assert summary["done"] == 1 and summary["training"] == 1
    assert (tmp_path / "set" / "fod" / "good.nii.gz").is_file()


def test_split_is_seeded_and_sized() -> None:
    subjects = [f"sub-{i:03d}" for i in range(1065)]
    train, val = split_subjects(subjects, 100, seed=0)
    assert len(train) == 965 and len(val) == 100 and not set(train) & set(val)
    assert split_subjects(subjects, 100, seed=0) == (train, val)
    assert split_subjects(subjects, 100, seed=1)[1] != val
    assert len(split_subjects(subjects, 0.1, seed=0)[1]) == 106


def test_table_errors_name_the_line(tmp_path: Path) -> None:
    table = tmp_path / "t.tsv"
    table.write_text("subject\tdwi\tbval\nsub-01\t\t\n")
    with pytest.raises(ValueError, match=r"t\.tsv, line 2: subject 'sub-01' has neither"):
        read_table(table)


def test_killed_run_leaves_only_whole_files_and_resumes(tmp_path: Path) -> None:
    import signal
    import time

    from monai_fodgan.data.phantom import make_population

    root = make_population(tmp_path / "ph", n=3, seed=5)
    out = tmp_path / "set"
    args = [sys.executable, "-m", "monai_fodgan.prepare", "--bids", str(root), "--out", str(out), "--backend", "dipy",
            "--shape", "16", "16", "8"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (out / "native" / "sub-0001.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "native" / "sub-0001.json").exists()
    for path in out.rglob("*.nii.gz"):
        if not path.name.startswith("."):
            load_fod(path)  # every visible output is whole
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] >= 1 and summary["skipped"] + summary["done"] == 3
    assert not [p for p in out.rglob(".*-*") if p.is_file()]  # no temporaries left
