"""The bundle trains from the float16 training arrays with the rotation augmentation on the device, and that run
computes what the loader-side augmentation computes (same rotations, same losses), through MONAI's own CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monai_fodgan.data.training_arrays import write_training_arrays
from tests.bundle.conftest import CONFIGS, bundle_command, read_losses, run_bundle, tiny_config


def test_arrays_with_rotation_on_the_device_train_like_the_loader(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(tiny_fod_dataset, dataset)
    write_training_arrays(dataset, progress=False)
    losses = {}
    for on_device in (False, True):
        out = tmp_path / f"device_{on_device}"
        # a tiny learning rate: Adam's first steps move near-zero gradients by +-lr whatever their rounding
        override = tiny_config(out, dataset, out / "training", training_storage="arrays", augment_on_device=on_device,
                               augmentation="random", rotation_prob=1.0, max_iterations=2, learning_rate=1e-9, sample_every=100)
        result = run_bundle(bundle_command("training", [CONFIGS / "train.json", override]), cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        losses[on_device] = read_losses(out / "training" / "losses.jsonl")
    assert sorted(losses[True]) == [1, 2]
    for iteration, record in losses[False].items():
        for key in ("loss_ge", "recon_l1", "loss_d", "d_real", "loss_cd"):
            assert losses[True][iteration][key] == pytest.approx(record[key], rel=1e-3, abs=1e-5), (iteration, key)
