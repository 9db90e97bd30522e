"""One real run of the evaluation command on the small sets with known answers (``eval_sets``, tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run([sys.executable, "-m", "monai_fodgan.evaluate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


FAST = ["--streamlines", "2000", "--tract-streamlines", "300", "--tract-seeds", "50", "--mantel-permutations", "99",
        "--mmd-permutations", "99", "--no-progress"]


@pytest.fixture(scope="session")
def evaluated(eval_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One run of ``python -m monai_fodgan.evaluate`` with both tractography backends: (output folder, process)."""
    if shutil.which("tckgen") is None and os.environ.get("MONAI_FODGAN_REQUIRE_MRTRIX") != "1":
        pytest.skip("MRtrix3 is not installed (apt-get install mrtrix3)")
    out = tmp_path_factory.mktemp("evaluation") / "report"
    proc = run_cli(["--synthetic", str(eval_sets["synthetic"]), "--reference", str(eval_sets["reference"]),
                    "--training", str(eval_sets["training"]), "--out", str(out), "--backend", "both",
                    "--tracts", "CC", "CST_L", "--template", "phantom", "--truth", str(eval_sets["phantom"]),
                    "--jobs", "2", *FAST], cwd=out.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc
