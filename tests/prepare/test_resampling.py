"""prepare warns, and records in summary.json, when the training grid resamples a subject by more than 2x."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from monai_fodgan.prepare.cohort import resampling_factors


def test_resampling_factors_follow_the_grid_axes() -> None:
    native = np.diag([2.5, 2.5, 2.5, 1.0])
    grid = np.diag([0.34, 0.39, 0.70, 1.0])
    assert resampling_factors(native, grid) == pytest.approx([0.136, 0.156, 0.28], abs=1e-3)
    swapped = np.array([[0, 2.0, 0, 0], [1.0, 0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1]])  # native axes permuted
    assert resampling_factors(swapped, np.diag([2.0, 1.0, 3.0, 1.0])) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(("shape", "warned"), [((64, 64, 32), True), ((16, 16, 8), False)])
def test_prepare_warns_about_strong_resampling(shape: tuple[int, int, int], warned: bool, tiny_fod_dataset: Path,
                                               tmp_path: Path) -> None:
    fod = tiny_fod_dataset / "fod" / "sub-0001.nii.gz"  # 16 x 16 x 8
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "monai_fodgan.prepare", "--fod", str(fod), "--out", str(out),
                           "--shape", *map(str, shape), "--crop", "subject"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    record = summary["resampling"]["sub-0001"]
    assert len(record["native_voxel_mm"]) == len(record["grid_voxel_mm"]) == len(record["factor"]) == 3
    assert ("warning: sub-0001: the training grid resamples it by up to" in proc.stderr) == warned
    assert bool(summary["resampling_warnings"]) == warned
    if warned:
        assert max(1 / f for f in record["factor"]) > 2
    assert "[1/1] sub-0001: done (FOD given," in proc.stdout
