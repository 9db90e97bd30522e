"""The DeepTaskGen bundle through ``python -m monai.bundle``: training (the learning rate scheduled on the validation
loss), fine-tuning, inference and evaluate (metrics, verdict, figures, report.html in headless Chromium) on a tiny
cohort, everything written into ``work_dir``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
from monai_fodgan.taskgen.prepare import main as prepare

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = REPO_ROOT / "taskgen_bundle"
CONFIGS = BUNDLE / "configs"
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


def _shipped() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (BUNDLE / "models").glob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(cohort) -> tuple[Path, Path, Path]:
    """Training, inference and evaluate with their defaults: everything under --work_dir, nothing in the bundle."""
    root, pop = cohort
    prep, work = root / "prep", root / "work"
    shipped = _shipped()
    # patience 0, factor 0.5, mode max: the rate halves after every epoch whose validation loss is no new maximum,
    # so a falling validation loss (training works) exercises the schedule
    result = _bundle("training", "train.json", root, "--dataset_dir", str(prep), *TINY, "--max_epochs", "3",
                     "--batch_size", "2", "--num_workers", "0", "--work_dir", str(work), "--plateau_patience", "0",
                     "--plateau_factor", "0.5", "--plateau_mode", "max")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for run_id, config, extra in (("inference", "inference.json", ["--split", "validation"]),
                                  ("evaluate", "evaluate.json", ["--participants", str(pop / "participants.tsv")])):
        result = _bundle(run_id, config, root, "--dataset_dir", str(prep), "--work_dir", str(work),
                         *(TINY if run_id == "inference" else []), *extra)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _shipped() == shipped  # nothing shipped was touched
    assert not (BUNDLE / "eval").exists() and not (BUNDLE / "models" / "model.pt").exists()
    return root, pop, work


def test_training_writes_into_work_dir_and_schedules_on_the_validation_loss(trained):
    _, _, work = trained
    assert (work / "training" / "model.pt").is_file()
    log = [json.loads(line) for line in (work / "training" / "val_loss.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2, 3]
    # ReduceLROnPlateau (patience 0, factor 0.5, mode max) stepped on val_loss after each epoch: the rate logged at
    # epoch e (before that epoch's step) is 1e-3 halved once per earlier epoch whose val_loss was no new maximum
    best, lr = -float("inf"), 1e-3
    for e in log:
        assert e["lr"] == pytest.approx(lr)
        if e["val_loss"] > best * (1 + 1e-4) if best > 0 else e["val_loss"] > best:
            best = e["val_loss"]
        else:
            lr *= 0.5
        assert np.isfinite(e["val_loss"]) and e["val_loss"] != e["train_loss"]
    assert log[-1]["lr"] < 1e-3  # the schedule acted


def test_inference_and_evaluation_write_report_and_verdict(trained):
    root, _, work = trained
    written = sorted((work / "predictions").glob("*_pred.nii.gz"))
    assert len(written) == 5
    mask = nib.load(str(root / "prep" / "mask.nii.gz"))
    assert nib.load(str(written[0])).shape == mask.shape + (2,)
    evaluation = work / "evaluation"
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert {"model", "group_average", "tavor", "phenotype_r2", "verdict"} <= set(metrics)
    checks = {c["check"]: c for c in metrics["verdict"]["checks"]}
    assert len(checks) == 4 and all(c["status"] in ("pass", "fail", "pipeline", "n/a") for c in checks.values())
    for c in checks.values():  # every fail says why; the verdict follows from the numbers
        assert bool(c["reason"]) == (c["status"] in ("fail", "pipeline"))
    m, g, t = (metrics[k]["mean"] for k in ("model", "group_average", "tavor"))
    r_check = checks["mean Pearson r: model above both baselines"]
    assert (r_check["status"] == "pass") == (m["pearson_r"] > max(g["pearson_r"], t["pearson_r"]))
    assert sorted(p.name for p in (evaluation / "figures").glob("*.png")) == [
        "baselines.png", "dice_curves.png", "matrices.png", "per_contrast.png", "phenotype.png"]
    assert np.asarray(metrics["model"]["matrix"]).shape == (5, 5) and len(metrics["model"]["dice_curve"]) == 10


def test_report_renders_in_headless_chromium_with_every_figure(trained, headless_chromium):
    from selenium.webdriver.common.by import By

    evaluation = trained[2] / "evaluation"
    driver = headless_chromium
    driver.get((evaluation / "report.html").as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    assert driver.title == "DeepTaskGen evaluation"
    images = driver.find_elements(By.TAG_NAME, "img")
    assert len(images) == len(list((evaluation / "figures").glob("*.png"))) == 5
    for img in images:
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img), img.get_attribute("alt")
    assert driver.find_elements(By.TAG_NAME, "h2")[0].text == "Verdict"
    rows = driver.find_element(By.ID, "verdict").find_elements(By.TAG_NAME, "tr")[1:]
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [c["check"] for c in metrics["verdict"]["checks"]]
    assert "paper (Serin et al. 2025, HCP)" in driver.page_source
    assert driver.find_element(By.ID, "section-phenotype").is_displayed()


def test_finetuning_trains_only_the_last_layer(trained, tmp_path):
    """finetune.json on a cohort with one contrast: the body of the trained model is kept exactly (BatchNorm
    statistics included), the new head starts from the shared contrast's row and is trained."""
    _, _, work = trained
    pop = make_population(tmp_path / "pop", n=6, spec=PopulationSpec(voxel_mm=12.0, n_components=4, n_contrasts=1,
                                                                       n_runs=1, n_frames=40))
    g = pop / "group"
    assert prepare(["--table", str(pop / "subjects.tsv"), "--components", str(g / "components.nii.gz"),
                    "--mask", str(g / "brain_mask.nii.gz"), "--out", str(tmp_path / "prep"), "--window", "20",
                    "--val", "2"]) == 0
    init = work / "training" / "model.pt"
    cmd = ["--dataset_dir", str(tmp_path / "prep"), "--work_dir", str(tmp_path / "ft"), "--init_checkpoint", str(init),
           "--out_channels", "1", "--finetune_contrasts", "[1]", "--max_epochs", "2", "--batch_size", "2",
           "--num_workers", "0", "--device", "cpu"]
    result = subprocess.run([sys.executable, "-m", "monai.bundle", "run", "training", "--config_file",
                             f"['{CONFIGS / 'train.json'}','{CONFIGS / 'finetune.json'}']", *cmd], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    before = torch.load(init, weights_only=True)
    after = torch.load(tmp_path / "ft" / "training" / "model.pt", weights_only=True)
    assert (after["preset"], after["in_channels"], after["out_channels"]) == ("tiny", 4, 1)
    body = [k for k in before["model"] if not k.startswith("out.")]
    assert body and all(torch.equal(before["model"][k], after["model"][k]) for k in body)
    assert after["model"]["out.weight"].shape[0] == 1
    assert not torch.equal(after["model"]["out.weight"], before["model"]["out.weight"][[1]])  # trained from there


def test_shipped_demo_model_predicts_a_demo_cohort(tmp_path):
    """inference.json + demo.json with the shipped weights on demo-size subjects (K = 12, C = 6)."""
    spec = PopulationSpec(n_runs=1, n_frames=60)
    pop = make_population(tmp_path / "pop", n=2, spec=spec)  # subjects 1-2: the shipped model saw these
    g = pop / "group"
    assert prepare(["--table", str(pop / "subjects.tsv"), "--components", str(g / "components.nii.gz"),
                    "--mask", str(g / "brain_mask.nii.gz"), "--out", str(tmp_path / "prep"), "--window", "60",
                    "--val", "1"]) == 0
    preds = tmp_path / "pred"
    cmd = [sys.executable, "-m", "monai.bundle", "run", "inference", "--config_file",
           f"['{CONFIGS / 'inference.json'}','{CONFIGS / 'demo.json'}']", "--dataset_dir", str(tmp_path / "prep"),
           "--split", "validation", "--output_dir", str(preds), "--device", "cpu",
           "--checkpoint_file", str(BUNDLE / "models" / "demo_model.pt")]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "2"}
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (written,) = preds.glob("*_pred.nii.gz")
    img = nib.load(str(written))
    assert img.shape[3] == 6 and np.isfinite(img.get_fdata()).all()


def test_bundle_root_of_the_taskgen_configs(tmp_path, monkeypatch):
    """Without --config_file in argv the configs' bundle_root is this source tree's taskgen_bundle/, and its own
    environment variable (not the FOD bundle's) moves it."""
    from monai_fodgan.bundle_paths import bundle_root

    monkeypatch.setattr(sys, "argv", ["pytest"])
    monkeypatch.delenv("MONAI_FODGAN_TASKGEN_BUNDLE_ROOT", raising=False)
    monkeypatch.setenv("MONAI_FODGAN_BUNDLE_ROOT", str(tmp_path / "fod"))
    assert bundle_root("taskgen_bundle") == str(BUNDLE)
    monkeypatch.setenv("MONAI_FODGAN_TASKGEN_BUNDLE_ROOT", str(tmp_path))
    assert bundle_root("taskgen_bundle") == str(tmp_path.resolve())
    assert json.loads((CONFIGS / "train.json").read_text())["bundle_root"].endswith("bundle_root('taskgen_bundle')")
