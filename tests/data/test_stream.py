"""The endless, resumable sample stream that feeds iteration-based training."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from monai.data import DataLoader, load_decathlon_datalist
from monai.transforms import Compose, EnsureTyped, SelectItemsd

from monai_fodgan.data import FODStreamDataset, StreamSampler, check_datalist
from monai_fodgan.transforms import LoadFODd, paper_rotation
from monai_fodgan.validation import FODValidationError
from tests.conftest import TINY_SHAPE


def _dataset(folder: Path, **kwargs: object) -> FODStreamDataset:
    data = load_decathlon_datalist(str(folder / "datalist.json"), False, "training")
    pre = Compose([LoadFODd("image", lmax=6), SelectItemsd(["image", "subject"])])
    aug = Compose([paper_rotation("image", prob=0.5), EnsureTyped("image", track_meta=False)])
    return FODStreamDataset(data, pre, aug, seed=3, lmax=6, spatial_shape=TINY_SHAPE, **kwargs)


def test_each_pass_visits_every_subject_once_in_a_seeded_order(tiny_fod_dataset: Path) -> None:
    ds = _dataset(tiny_fod_dataset)
    first, second = [ds.subject(p) for p in range(6)], [ds.subject(p) for p in range(6, 12)]
    assert sorted(first) == sorted(second) == list(range(6))
    assert first != second  # reshuffled per pass
    assert [ds.subject(p) for p in range(6)] == first  # and reproducible


def test_sample_depends_only_on_its_position(tiny_fod_dataset: Path) -> None:
    ds, cold = _dataset(tiny_fod_dataset), _dataset(tiny_fod_dataset, cache=False)
    late = ds[13]["image"]
    for p in range(13):  # visiting other positions first changes nothing
        ds[p]
    torch.testing.assert_close(ds[13]["image"], late)
    torch.testing.assert_close(cold[13]["image"], late)
    # the same subject at different positions gets different augmentations (rotation with probability 0.5)
    same = [p for p in range(60) if ds.subject(p) == 0]
    images = [ds[p]["image"] for p in same]
    assert any(not torch.equal(images[0], other) for other in images[1:])


def test_resumed_loader_continues_the_stream(tiny_fod_dataset: Path) -> None:
    ds = _dataset(tiny_fod_dataset)
    per_iteration = 4

    def batches(start_iteration: int, n: int) -> list[torch.Tensor]:
        sampler = StreamSampler(per_iteration, rank=0, world_size=1)
        sampler.set_iteration(start_iteration)
        loader = DataLoader(ds, batch_size=per_iteration, sampler=sampler, num_workers=0)
        return [b["image"] for b in itertools.islice(iter(loader), n)]

    straight = batches(0, 5)
    resumed = batches(3, 2)
    for a, b in zip(straight[3:], resumed):
        torch.testing.assert_close(a, b)


def test_ranks_read_disjoint_interleaved_positions() -> None:
    streams = [list(itertools.islice(iter(StreamSampler(3, rank=r, world_size=2)), 6)) for r in (0, 1)]
    assert streams == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]]


def test_datalist_problems_name_the_file(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    data = load_decathlon_datalist(str(tiny_fod_dataset / "datalist.json"), False, "training")
    with pytest.raises(FODValidationError, match="empty"):
        check_datalist([])
    with pytest.raises(FODValidationError, match="no 'image' key"):
        check_datalist([{"label": "x"}])
    missing = str(tmp_path / "gone.nii.gz")
    with pytest.raises(FODValidationError, match="gone.nii.gz: no such file"):
        check_datalist([{"image": missing}])
    with pytest.raises(FODValidationError, match="needs lmax 8"):
        check_datalist(data, lmax=8)
    with pytest.raises(FODValidationError, match=r"grid \(16, 16, 8\) differs"):
        check_datalist(data, spatial_shape=(32, 32, 16))
