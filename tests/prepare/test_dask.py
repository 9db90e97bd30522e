"""``python -m monai_fodgan.prepare --scheduler`` on a real Dask cluster of worker processes gives the files of a
``--jobs 1`` run, resumes (finished subjects skipped by content hash) and reports a failing subject while the others
finish. Ready FODs (phantom ground truth, 16 x 16 x 8) keep the runs to seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.prepare.__main__ import main as prepare

SHAPE = ["--shape", "12", "12", "6"]
TIMING = ("seconds", "total_seconds", "seconds_per_subject", "config", "traceback")


def _without(record: object, root: Path) -> object:
    """The record without timings and tracebacks, with the output folder's path written as OUT."""
    if isinstance(record, dict):
        return {k: _without(v, root) for k, v in record.items() if k not in TIMING}
    if isinstance(record, list):
        return [_without(v, root) for v in record]
    return record.replace(str(root), "OUT") if isinstance(record, str) else record


def _image(path: Path) -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(str(path))
    return np.asarray(img.dataobj), img.affine


def test_dask_run_equals_jobs_1_resumes_and_reports_a_failing_subject(tiny_fod_dataset: Path, dask_cluster: str,
                                                                      tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(tiny_fod_dataset / "fod", inputs)
    (inputs / "sub-bad.nii.gz").write_bytes(b"not an image")  # fails in the worker, when it is read
    rows = [(p.name.split(".")[0], p) for p in sorted(inputs.glob("*.nii.gz"))][:5] + [("sub-bad", inputs / "sub-bad.nii.gz")]
    table = tmp_path / "subjects.csv"
    table.write_text("subject,fod\n" + "".join(f"{s},{p}\n" for s, p in rows))
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert prepare(["--table", str(table), "--out", str(local), "--jobs", "1", "--val", "1", *SHAPE]) == 1
    assert prepare(["--table", str(table), "--out", str(dask), "--scheduler", dask_cluster, "--val", "1", *SHAPE]) == 1

    # the same files: images, sidecars, datalist, statistics, summary (timings aside)
    names = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file() and ".lock" not in p.name)
    assert names == sorted(p.relative_to(dask) for p in dask.rglob("*") if p.is_file() and ".lock" not in p.name)
    for name in names:
        a, b = local / name, dask / name
        if name.suffix == ".gz":
            (da, aa), (db, ab) = _image(a), _image(b)
            np.testing.assert_array_equal(da, db, err_msg=str(name))
            np.testing.assert_array_equal(aa, ab, err_msg=str(name))
        else:
            assert _without(json.loads(a.read_text()), local) == _without(json.loads(b.read_text()), dask), name
    summary = json.loads((dask / "summary.json").read_text())
    assert summary["done"] == 5 and [f["subject"] for f in summary["failed"]] == ["sub-bad"]
    assert "sub-bad" in summary["failed"][0]["error"]
    assert summary["config"]["scheduler"] == dask_cluster

    # a re-run on the cluster skips every finished subject: their native FODs are not rewritten
    native = {p: p.stat().st_mtime_ns for p in (dask / "native").glob("*_fod.nii.gz")}
    assert len(native) == 5
    assert prepare(["--table", str(table), "--out", str(dask), "--scheduler", dask_cluster, "--val", "1", *SHAPE]) == 1
    again = json.loads((dask / "summary.json").read_text())
    assert again["skipped"] == 5 and again["done"] == 0 and [f["subject"] for f in again["failed"]] == ["sub-bad"]
    assert {p: p.stat().st_mtime_ns for p in native} == native
