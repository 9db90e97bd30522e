"""The speed benchmarks and the prepared GPU script run, at tiny sizes on the CPU, and print figures that follow
from what they measure (no timing is asserted: speed is shown by the benchmarks, not tested)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

BENCH = REPO_ROOT / "benchmarks"


def test_gpu_check_script_writes_its_table_on_the_cpu(tmp_path: Path) -> None:
    """The prepared GPU script end to end in its --smoke mode (tiny sizes): the training benchmark (plain baseline
    beside the optimised configurations), bf16 against fp32, generation and the loader, in one table."""
    out = tmp_path / "gpu"
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(BENCH / "gpu_check.sh"), "--smoke", str(out)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (out / "gpu_table.md").read_text()
    assert "not measured" not in table
    for heading in ("Training, paper scale", "Training, demo scale", "relative difference to fp32", "Generation", "Data path"):
        assert heading in table
    paper = {r["config"]: r for r in json.loads((out / "paper.json").read_text())["rows"]}
    assert paper["plain"]["speedup"] == 1.0  # the baseline
    flops = {name: r["tflop_per_iteration"] for name, r in paper.items()}
    # counted as computed: the fused form does fewer multiply-adds, recomputation (checkpointing) adds some back
    assert flops["fused"] < flops["plain"] < 2 * flops["fused"]
    assert flops["fused"] < flops["fused+checkpointing"]
    assert all(abs(sum(r["phases"].values()) - 1) < 1e-6 for r in paper.values())  # --breakdown: shares of the time
    precision = json.loads((out / "precision.json").read_text())["runs"]
    assert set(precision) == {"fp32", "bf16", "bf16+fp32last"}
    assert abs(precision["bf16"]["loss_ge"] / precision["fp32"]["loss_ge"] - 1) < 0.05  # bf16 rounding, not another loss
    generation = json.loads((out / "generation.json").read_text())["rows"]
    assert {(r["implementation"], r["batch"]) for r in generation} == {(i, b) for i in ("plain", "fused") for b in (1, 2)}
    assert "float16 arrays, rotation on the device" in (out / "loader.log").read_text()
