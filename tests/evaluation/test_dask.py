"""``python -m monai_fodgan.evaluate --scheduler`` on a real Dask cluster of worker processes: the numbers of a
``--jobs 1`` run, a failing subject reported while the others finish, and a re-run that reuses every cached result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np

from tests.evaluation.conftest import run_cli

def _without_seconds(record: object) -> object:
    if isinstance(record, dict):
        return {k: _without_seconds(v) for k, v in record.items() if k != "seconds"}
    return [_without_seconds(v) for v in record] if isinstance(record, list) else record


CHEAP = ["--backend", "dipy", "--tracts", "CC", "--algorithms", "deterministic", "--atlas", "mni", "--streamlines", "500",
         "--tract-streamlines", "50", "--mantel-permutations", "9", "--mmd-permutations", "9", "--no-progress"]


def test_dask_run_equals_jobs_1_reports_a_failing_subject_and_resumes(eval_sets: dict[str, Path], dask_cluster: str,
                                                                      tmp_path: Path) -> None:
    synthetic = tmp_path / "synthetic"
    shutil.copytree(eval_sets["synthetic"], synthetic)
    img = nib.load(str(synthetic / "sub-0001.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.float32), img.affine), str(synthetic / "sub-empty.nii.gz"))
    sets = ["--synthetic", str(synthetic), "--reference", str(eval_sets["reference"]), "--training", str(eval_sets["training"])]
    local, dask = tmp_path / "local", tmp_path / "dask"
    proc = run_cli([*sets, "--out", str(local), "--jobs", "1", *CHEAP], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    proc = run_cli([*sets, "--out", str(dask), "--scheduler", dask_cluster, *CHEAP], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "sub-empty" in proc.stderr + proc.stdout
    a, b = (json.loads((out / "metrics.json").read_text()) for out in (local, dask))
    assert [f["subject"] for f in b["failed"]] == ["sub-empty"] and "no positive voxel" in b["failed"][0]["error"]
    assert b["sets"]["synthetic"] == ["sub-0001", "sub-0002", "sub-copy"]
    assert b["config"]["scheduler"] == dask_cluster
    for key in ("sets", "failed", "fod", "connectomes", "tracts", "generative", "registration", "verdict"):
        assert _without_seconds(a[key]) == _without_seconds(b[key]), key

    # a re-run on the cluster reuses every cached subject result
    cached = {p: p.stat().st_mtime_ns for p in (dask / "cache" / "subjects").rglob("*.npz")}
    # fod, atlas and tracking of the 3 distinct files analysed (the synthetic sub-0001/0002 are copies of the
    # reference ones: one analysis each), and the fod step of sub-empty, which failed after it
    assert len(cached) == 3 * 3 + 1
    proc = run_cli([*sets, "--out", str(dask), "--scheduler", dask_cluster, *CHEAP], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in cached} == cached
    assert json.loads((dask / "metrics.json").read_text())["tracts"] == b["tracts"]
