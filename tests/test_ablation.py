"""The recipe ablation harness at tiny size: real bundle runs per recipe, the real evaluation, one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from monai_fodgan.ablation import RECIPES, markdown_table, table_rows
from tests.conftest import REPO_ROOT


def _ablation(dataset: Path, out: Path, docs: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "monai_fodgan.ablation", "--dataset", str(dataset), "--out", str(out),
           "--recipes", "paper", "nonnegative_l0", "--iterations", "2", "--preset", "tiny", "--batch-size", "2",
           "--samples", "2", "--no-memorisation", "--eval-streamlines", "300", "--eval-tract-streamlines", "20", "--jobs", "1",
           "--docs", str(docs), "--evaluate-args", "--tracts", "CC", "--algorithms", "deterministic", "--atlas", "mni",
           "--mantel-permutations", "9", "--mmd-permutations", "9"]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900, cwd=out.parent, env=env)


def test_ablation_trains_each_recipe_and_tabulates_its_own_evaluation(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    out, docs = tmp_path / "ablation", tmp_path / "docs" / "ablation.md"
    result = _ablation(tiny_fod_dataset, out, docs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # each recipe trained with its own overrides: the mask recipe stores and applies the population mask
    masked = torch.load(out / "nonnegative_l0" / "seed0" / "training" / "model.pt", weights_only=True)
    plain = torch.load(out / "paper" / "seed0" / "training" / "model.pt", weights_only=True)
    assert plain["brain_mask"] is None and masked["brain_mask"] is not None
    assert masked["normalization"]["mode"] == "raw"
    assert (plain["l0_output"], masked["l0_output"]) == ("tanh", "nonnegative")
    mask = masked["brain_mask"].numpy()
    masked_fod = nib.load(out / "nonnegative_l0" / "seed0" / "synthetic" / "sub-synth0001.nii.gz").get_fdata()
    plain_fod = nib.load(out / "paper" / "seed0" / "synthetic" / "sub-synth0001.nii.gz").get_fdata()
    assert np.all(masked_fod[~mask] == 0) and np.count_nonzero(plain_fod[~mask]) > 0
    assert masked_fod[..., 0].min() >= 0 and plain_fod[mask][:, 0].min() < 0  # |tanh| on l = 0 reaches the NIfTI
    # the table holds each run's own verdict values
    table = json.loads((out / "ablation.json").read_text())
    assert [r["recipe"] for r in table["rows"]] == ["paper", "nonnegative_l0"]
    for row in table["rows"]:
        metrics = json.loads((out / row["recipe"] / "seed0" / "evaluation" / "metrics.json").read_text())
        for check in metrics["verdict"]["checks"]:
            assert row[check["check"]]["status"] == [check["status"]]
    # one evaluation cache: each reference subject analysed once, each recipe's synthetic subjects on their own
    n_reference = len(json.loads((out / "paper" / "seed0" / "evaluation" / "metrics.json").read_text())["sets"]["reference"])
    analysed = {p.parent.name for p in (out / "evaluation_cache" / "subjects").glob("*/tracking_*.npz")}
    assert len(analysed) == n_reference + 2 * 2
    assert not (out / "paper" / "seed0" / "evaluation" / "cache").exists()
    text = docs.read_text()
    assert text == (out / "ablation.md").read_text() and "| check | `paper` | `nonnegative_l0` |" in text
    assert RECIPES["paper"][1] in text
    # a re-run reuses the finished runs
    again = _ablation(tiny_fod_dataset, out, docs)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("done before") == 2


def test_table_averages_numbers_over_seeds_and_counts_passes() -> None:
    def metrics(value: str, status: str) -> dict:
        return {"verdict": {"checks": [{"check": "negative l = 0", "value": value, "status": status},
                                       {"check": "memorisation", "value": "0", "status": "pass"}]}}

    columns, rows = table_rows({"paper": [metrics("0.02", "fail"), metrics("0.004", "pass")],
                                "before": [metrics("n/a", "n/a")]})
    assert columns == ["negative l = 0", "memorisation"]
    assert rows[0]["negative l = 0"] == {"value": "0.012", "pass": 1, "n": 2, "status": ["fail", "pass"]}
    assert rows[1]["negative l = 0"]["value"] == "n/a"
    text = markdown_table(columns, rows, "# t")
    assert "| negative l = 0 | 0.012 (1/2 pass) | n/a (0/1 pass) |" in text
    # a literal | inside a cell is escaped, so every row keeps its number of cells
    columns, rows = table_rows({"paper": [{"verdict": {"checks": [{"check": "|bias| < 10%", "value": "3", "status": "pass"}]}}]})
    table = [line for line in markdown_table(columns, rows, "# t").splitlines() if line.startswith("| ")]
    assert "| \\|bias\\| < 10% | 3 (1/1 pass) |" in table
    assert {line.replace("\\|", "").count("|") for line in table} == {3}
