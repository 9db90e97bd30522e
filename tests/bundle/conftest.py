"""Helpers for running the real bundle through ``python -m monai.bundle`` in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TINY_SHAPE

BUNDLE = REPO_ROOT / "bundle"
CONFIGS = BUNDLE / "configs"


def tiny_config(folder: Path, dataset_dir: Path, out: Path, **extra: object) -> Path:
    """Write an override config: tiny preset at 16 x 16 x 8 on ``dataset_dir``, outputs in ``out``."""
    cfg = {
        "preset": "tiny", "spatial_shape": list(TINY_SHAPE), "device": "cpu", "num_workers": 0, "cache_dataset": True,
        "precision": "fp32", "batch_size": 2, "augmentation": "random", "rotation_prob": 0.5, "max_iterations": 4, "epoch_length": 2,
        "checkpoint_every_epochs": 1, "sample_every": 2, "memorisation_every": 2, "log_every": 1,
        "dataset_dir": str(dataset_dir), "normalization_file": str(dataset_dir / "sh_stats.json"),
        "output_dir": str(out), "ckpt_dir": str(out / "checkpoints"), "checkpoint_file": str(out / "model.pt"),
    }
    cfg.update(extra)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.json"
    path.write_text(json.dumps(cfg, indent=1))
    return path


def bundle_command(run_id: str, configs: list[Path], *args: str, launcher: list[str] | None = None) -> list[str]:
    files = "[" + ",".join(f"'{c}'" for c in configs) + "]"
    head = launcher if launcher is not None else [sys.executable]
    return [*head, "-m", "monai.bundle", "run", run_id, "--config_file", files, *args]


def run_bundle(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "2"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def read_losses(path: Path) -> dict[int, dict[str, float]]:
    """Loss records by iteration (a resumed run appends; the last record of an iteration wins)."""
    out: dict[int, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out[rec["iteration"]] = rec
    return out


@pytest.fixture(scope="module")
def trained_tiny(tiny_fod_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-iteration training run of the real bundle (from an unrelated working directory): (out dir, override)."""
    work = tmp_path_factory.mktemp("bundle_run")
    out = work / "training"
    override = tiny_config(work, tiny_fod_dataset, out)
    result = run_bundle(bundle_command("training", [CONFIGS / "train.json", override]), cwd=work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, override
