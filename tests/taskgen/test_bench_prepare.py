"""The preparation benchmark runs at a tiny size and both implementations agree (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_and_agrees_with_plain_implementation(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_taskgen_prepare.py"), "--shape", "12", "14", "12",
           "--frames", "30", "--components", "4", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ratio plain / ours" in proc.stdout
    result = json.loads(out.read_text())
    assert result["max_abs_r_difference"] < 1e-5 and result["ratio"] > 0
