"""The bundle's evaluate run, through MONAI's own CLI, as a user (or another pipeline) would run it: here on the
workers of a real Dask cluster (``scheduler``), the way a cohort is evaluated on an HPC system."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bundle.conftest import CONFIGS, bundle_command, run_bundle


def test_evaluate_run_writes_metrics_and_report(eval_sets: dict[str, Path], dask_cluster: str, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    listing = {key: [{"image": str(p), "subject": p.name.split(".")[0]} for p in sorted(eval_sets[folder].glob("*.nii.gz"))]
               for key, folder in (("training", "training"), ("validation", "reference"))}
    (dataset / "datalist.json").write_text(json.dumps(listing))
    work = tmp_path / "elsewhere"  # not the bundle's folder: bundle_root is found from --config_file
    work.mkdir()
    out = tmp_path / "report"
    result = run_bundle(bundle_command(
        "evaluate", [CONFIGS / "evaluate.json"], "--dataset_dir", str(dataset), "--synthetic_dir", str(eval_sets["synthetic"]),
        "--output_dir", str(out), "--backend", "dipy", "--atlas", "mni", "--tracts", "['CC']",
        "--algorithms", "['deterministic']", "--streamlines", "500", "--tract_streamlines", "50",
        "--mantel_permutations", "9", "--mmd_permutations", "9", "--scheduler", dask_cluster), cwd=work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sets"] == {"synthetic": ["sub-0001", "sub-0002", "sub-copy"], "reference": ["sub-0001", "sub-0002"],
                               "training": ["sub-0003", "sub-0004"]}
    assert metrics["config"]["streamlines"] == 500 and metrics["config"]["tracts"] == ["CC"]
    assert metrics["config"]["scheduler"] == dask_cluster and not metrics["failed"]
    assert metrics["generative"]["memorisation"]["flagged"] == ["sub-copy"]
    assert (out / "report.html").stat().st_size > 50_000
