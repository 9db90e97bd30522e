"""The memorisation check during training: the evaluation's rule on samples of the generator being trained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from monai_fodgan.data import load_datalist
from monai_fodgan.engines import MemorisationCheck, nearest_distances
from monai_fodgan.io import load_fod
from monai_fodgan.transforms import SHNormalization


class ImageBank(torch.nn.Module):
    """A generator that has memorised its images perfectly: every code maps to one of them."""

    def __init__(self, images: torch.Tensor, latent_size: int = 8) -> None:
        super().__init__()
        self.register_buffer("images", images)
        self.gain = torch.nn.Parameter(torch.ones(()))
        self.latent_size = latent_size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        index = (z[:, 0].abs() * 1000).long() % self.images.shape[0]
        return self.images[index] * self.gain


def _normalised(dataset: Path, key: str) -> torch.Tensor:
    stats = SHNormalization.load(dataset / "sh_stats.json")
    return torch.stack([stats.normalize(torch.as_tensor(np.asarray(load_fod(e["image"])), dtype=torch.float32))
                        for e in load_datalist(dataset / "datalist.json", key)])


def test_nearest_distances_match_a_brute_force_answer() -> None:
    rng = np.random.default_rng(0)
    queries, images = rng.normal(size=(3, 4, 5, 6, 2)), rng.normal(size=(7, 4, 5, 6, 2))
    expected = np.sqrt(((queries[:, None] - images[None]) ** 2).reshape(3, 7, -1).sum(-1)).min(1)
    got = nearest_distances(torch.as_tensor(queries, dtype=torch.float32), iter(torch.as_tensor(images, dtype=torch.float32)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="training grid"):
        nearest_distances(torch.zeros(1, 4, 5, 6, 2), [torch.zeros(4, 5, 6, 3)])


@pytest.mark.parametrize(("source", "flagged"), [("training", 8), ("validation", 0)])
def test_copies_of_training_subjects_are_flagged_and_held_out_subjects_are_not(
        tiny_fod_dataset: Path, tmp_path: Path, source: str, flagged: int) -> None:
    # a generator reproducing training subjects: every sample at distance 0, below every held-out subject's distance;
    # one reproducing the held-out subjects: each at its own distance, which the rule (strictly closer) does not flag
    bank = ImageBank(_normalised(tiny_fod_dataset, source))
    check = MemorisationCheck(bank, tiny_fod_dataset / "datalist.json", tiny_fod_dataset / "sh_stats.json",
                              tmp_path / "memorisation.jsonl", n=8)
    record = check.check()
    assert record["flagged"] == flagged and record["samples"] == 8
    assert (record["training_images"], record["held_out_images"]) == (6, 2)
    assert record["threshold"] > 0
    if source == "training":
        assert record["sample_distance"] == pytest.approx(0.0, abs=1e-4) and record["ratio_of_medians"] < 1e-4
    else:
        assert record["sample_distance"] >= record["threshold"]


def test_rejects_settings_that_cannot_check(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    bank = ImageBank(_normalised(tiny_fod_dataset, "training"))
    with pytest.raises(ValueError, match="n >= 1"):
        MemorisationCheck(bank, tiny_fod_dataset / "datalist.json", None, tmp_path / "m.jsonl", n=0)
    # no held-out subjects: named, and a training run goes on without the check (attach logs it)
    datalist = json.loads((tiny_fod_dataset / "datalist.json").read_text())
    (tmp_path / "no_validation.json").write_text(json.dumps({**datalist, "validation": []}))
    check = MemorisationCheck(bank, tmp_path / "no_validation.json", None, tmp_path / "m.jsonl")
    with pytest.raises(ValueError, match="no_validation.json has no 'validation' subjects"):
        check.check()


def test_a_held_out_file_that_breaks_during_training_turns_the_check_off_not_the_training(
        tiny_fod_dataset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    from ignite.engine import Engine

    from monai_fodgan.validation import FODValidationError

    dataset = tmp_path / "dataset"
    shutil.copytree(tiny_fod_dataset, dataset)
    bank = ImageBank(_normalised(dataset, "training"))
    # a missing held-out file is named before training starts (training itself checks only its own files)
    moved = dataset / "fod" / "sub-0008.nii.gz"
    moved.rename(tmp_path / "away.nii.gz")
    with pytest.raises(FODValidationError, match="sub-0008.nii.gz: no such file"):
        MemorisationCheck(bank, dataset / "datalist.json", dataset / "sh_stats.json", tmp_path / "m.jsonl").load_subjects()
    (tmp_path / "away.nii.gz").rename(moved)
    # one that breaks after the start: a warning, no record, and the run completes
    engine = Engine(lambda e, batch: None)
    check = MemorisationCheck(bank, dataset / "datalist.json", dataset / "sh_stats.json", tmp_path / "m.jsonl", interval=2, n=2)
    check.attach(engine)
    moved.write_bytes(b"not a NIfTI image")
    engine.run(range(4), max_epochs=1)
    assert engine.state.iteration == 4 and check.off and not (tmp_path / "m.jsonl").exists()
    assert any("memorisation check off from iteration 2" in r.getMessage() for r in caplog.records)
