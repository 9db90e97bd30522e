"""Identical inputs and seed give identical ``metrics.json`` whatever ``--jobs`` (issue 15, item 4).

``tckgen`` with a fixed ``MRTRIX_RNG_SEED`` repeats exactly only single-threaded; with the thread count derived
from ``--jobs`` (CPU count / jobs) the global efficiency of one reference subject differed between runs. A tiny
case keeps this short: the synthetic set is a copy of the two reference subjects (analysed once each, by content),
32 x 32 x 16 phantom FODs tracked on 8 mm voxels with a few hundred streamlines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.evaluation.conftest import run_cli

TIMING = {"seconds", "seconds_per_subject", "tract_seconds", "config"}


def _without_timing(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [_without_timing(v) for v in obj]
    return obj


def test_metrics_identical_whatever_jobs(eval_sets: dict[str, Path], mrtrix: None, tmp_path: Path) -> None:
    import json

    synthetic = tmp_path / "synthetic"
    shutil.copytree(eval_sets["reference"], synthetic)
    metrics = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        proc = run_cli(["--synthetic", str(synthetic), "--reference", str(eval_sets["reference"]), "--out", str(out),
                        "--backend", "mrtrix", "--tracts", "CC", "--algorithms", "probabilistic", "--atlas", "mni",
                        "--voxel", "8", "--streamlines", "400", "--tract-streamlines", "40", "--tract-seeds", "20",
                        "--mantel-permutations", "9", "--mmd-permutations", "9", "--seed", "3", "--jobs", jobs,
                        "--no-progress"], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics.append(json.loads((out / "metrics.json").read_text()))
    a, b = (_without_timing(m) for m in metrics)
    assert a == b
