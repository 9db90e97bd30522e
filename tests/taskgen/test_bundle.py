"""The DeepTaskGen bundle through ``python -m monai.bundle``: training, inference and evaluate on a tiny cohort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
from monai_fodgan.taskgen.prepare import main as prepare

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "bundles" / "taskgen" / "configs"
SPEC = PopulationSpec(voxel_mm=12.0, n_components=4, n_contrasts=2, n_runs=1, n_frames=40)
TINY = ["--preset", "tiny", "--in_channels", "4", "--out_channels", "2", "--device", "cpu"]


def _bundle(run_id: str, config: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", str(CONFIGS / config), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "2"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("taskgen_bundle")
    pop = make_population(root / "pop", n=8, spec=SPEC)
    g = pop / "group"
    assert prepare(["--table", str(pop / "subjects.tsv"), "--components", str(g / "components.nii.gz"),
                    "--mask", str(g / "brain_mask.nii.gz"), "--gm-mask", str(g / "gm_mask.nii.gz"),
                    "--out", str(root / "prep"), "--window", "20", "--val", "5"]) == 0
    return root, pop


def test_metadata_is_valid_json_with_the_paper_channels():
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    fmt = meta["network_data_format"]
    assert fmt["inputs"]["image"]["num_channels"] == 50 and fmt["outputs"]["pred"]["num_channels"] == 47


def test_train_inference_evaluate(cohort):
    root, pop = cohort
    prep, out = root / "prep", root / "run"
    ckpt = out / "model.pt"
    result = _bundle("training", "train.json", root, "--dataset_dir", str(prep), *TINY, "--max_epochs", "2",
                     "--batch_size", "2", "--num_workers", "0", "--checkpoint_file", str(ckpt))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert ckpt.is_file()
    preds = out / "predictions"
    result = _bundle("inference", "inference.json", root, "--dataset_dir", str(prep), *TINY, "--split", "validation",
                     "--checkpoint_file", str(ckpt), "--output_dir", str(preds))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    written = sorted(preds.glob("*_pred.nii.gz"))
    assert len(written) == 5
    mask = nib.load(str(prep / "mask.nii.gz"))
    assert nib.load(str(written[0])).shape == mask.shape + (2,)
    result = _bundle("evaluate", "evaluate.json", root, "--dataset_dir", str(prep), "--predictions_dir", str(preds),
                     "--output_dir", str(out), "--participants", str(pop / "participants.tsv"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"model", "group_average", "tavor", "phenotype_r2"} <= set(metrics)


def test_shipped_demo_model_predicts_a_demo_cohort(tmp_path):
    """inference.json + demo.json with the shipped weights on demo-size subjects (K = 12, C = 6)."""
    spec = PopulationSpec(n_runs=1, n_frames=60)
    pop = make_population(tmp_path / "pop", n=2, spec=spec)
    g = pop / "group"
    assert prepare(["--table", str(pop / "subjects.tsv"), "--components", str(g / "components.nii.gz"),
                    "--mask", str(g / "brain_mask.nii.gz"), "--out", str(tmp_path / "prep"), "--window", "60",
                    "--val", "1"]) == 0
    preds = tmp_path / "pred"
    cmd = [sys.executable, "-m", "monai.bundle", "run", "inference", "--config_file",
           f"['{CONFIGS / 'inference.json'}','{CONFIGS / 'demo.json'}']", "--dataset_dir", str(tmp_path / "prep"),
           "--split", "validation", "--output_dir", str(preds), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "2"}
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (written,) = preds.glob("*_pred.nii.gz")
    img = nib.load(str(written))
    assert img.shape[3] == 6 and np.isfinite(img.get_fdata()).all()
