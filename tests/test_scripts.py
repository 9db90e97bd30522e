"""The tutorials, the demo and the benchmark run as a user would run them, in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TUTORIALS = sorted((REPO_ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def _run(args: list[str], cwd: Path, timeout: int = 600) -> str:
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs_and_writes_figures(tutorial: Path, tmp_path: Path) -> None:
    _run([str(tutorial), str(tmp_path)], cwd=tmp_path)
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_demo_trains_from_the_shipped_model_and_generates(tmp_path: Path) -> None:
    import torch

    from monai_fodgan.io import load_fod

    stdout = _run(["-m", "monai_fodgan.demo", "--out", str(tmp_path / "demo"), "--subjects", "4", "--iterations", "2",
                   "--samples", "3", "--eval-streamlines", "1000", "--eval-tract-streamlines", "50"], cwd=tmp_path, timeout=900)
    assert "demo finished" in stdout and f"Evaluation report: {tmp_path / 'demo' / 'evaluation' / 'report.html'}" in stdout
    demo = tmp_path / "demo"
    shipped = torch.load(REPO_ROOT / "bundle" / "models" / "demo_checkpoint.pt", weights_only=True)
    trained = torch.load(demo / "training" / "model.pt", weights_only=True)
    assert trained["trainer"]["iteration"] == shipped["trainer"]["iteration"] + 2  # continued, not restarted
    synthetic = sorted((demo / "synthetic").glob("sub-synth*.nii.gz"))
    assert [p.name for p in synthetic] == ["sub-synth0001.nii.gz", "sub-synth0002.nii.gz", "sub-synth0003.nii.gz"]
    for path in synthetic + sorted((demo / "augmented").glob("*.nii.gz")):
        assert load_fod(path).shape == (28, 32, 32, 16)
    for figure in ("prepared_slices.png", "synthetic_slices.png"):
        assert (demo / figure).stat().st_size > 10_000
    # the evaluation of the generated subjects against the validation subject, computed from them
    metrics = json.loads((demo / "evaluation" / "metrics.json").read_text())
    assert metrics["sets"]["synthetic"] == ["sub-synth0001", "sub-synth0002", "sub-synth0003"]
    assert len(metrics["sets"]["reference"]) == 1 and not metrics["failed"]
    assert len(metrics["fod"]["squared_differences"]["synthetic"]["values"]) == 3
    assert (demo / "evaluation" / "report.html").stat().st_size > 100_000


def test_benchmark_prints_ratio(tmp_path: Path) -> None:
    stdout = _run([str(REPO_ROOT / "benchmarks" / "bench_transforms.py"), "--size", "32", "32", "16", "--repeats", "1"], cwd=tmp_path)
    assert "SHRotate  in memory" in stdout
    if "mrtransform not installed" not in stdout:
        assert "ratio mrtransform / SHRotate" in stdout

