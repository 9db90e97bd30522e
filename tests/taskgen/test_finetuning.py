"""Fine-tuning from a checkpoint, and the validation loss the learning-rate schedule reads."""

from __future__ import annotations

import pytest
import torch

from monai_fodgan.taskgen.finetuning import (
    checkpoint_meta,
    finetuning_network,
    training_network,
)
from monai_fodgan.taskgen.handlers import ValidationLoss, _batches
from monai_fodgan.taskgen.inference import save_checkpoint
from monai_fodgan.taskgen.losses import CRRLoss
from monai_fodgan.taskgen.networks import task_network


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    net = task_network("tiny", in_channels=4, out_channels=5)
    with torch.no_grad():
        net.head[0].adn.N.running_mean.uniform_()  # statistics of "the training cohort"
    return save_checkpoint(tmp_path / "model.pt", net, preset="tiny", in_channels=4, out_channels=5), net


def test_new_head_starts_from_the_shared_contrast_and_alone_is_trainable(checkpoint):
    path, trained = checkpoint
    net = finetuning_network(path, 2, contrasts=[3, 0], in_channels=4)
    assert torch.equal(net.out.weight, trained.out.weight[[3, 0]]) and torch.equal(net.out.bias, trained.out.bias[[3, 0]])
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["out.weight", "out.bias"]
    assert torch.equal(net.head[0].adn.N.running_mean, trained.head[0].adn.N.running_mean)
    net.train()
    net(torch.randn(2, 4, 8, 8, 8))
    assert torch.equal(net.head[0].adn.N.running_mean, trained.head[0].adn.N.running_mean)  # frozen BatchNorm
    kept = finetuning_network(path, 5)  # same contrasts, no mapping: the trained head is kept
    assert torch.equal(kept.out.weight, trained.out.weight)
    assert checkpoint_meta(path)["out_channels"] == 5


def test_finetuning_refuses_what_does_not_fit(checkpoint, tmp_path):
    path, _ = checkpoint
    with pytest.raises(ValueError, match="K = 4"):
        finetuning_network(path, 1, in_channels=12)
    with pytest.raises(ValueError, match="contrasts must give"):
        finetuning_network(path, 1, contrasts=[5])
    with pytest.raises(ValueError, match="contrasts must give"):
        finetuning_network(path, 2, contrasts=[1])
    torch.save({"model": {}}, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="bare.pt"):
        finetuning_network(tmp_path / "bare.pt", 1)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        finetuning_network(tmp_path / "missing.pt", 1)


def test_training_network_continues_from_a_checkpoint(checkpoint):
    path, trained = checkpoint
    net = training_network(task_network("tiny", in_channels=4, out_channels=5), "cpu", path)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), trained.state_dict().values()))
    fresh = training_network(task_network("tiny", in_channels=4, out_channels=5), "cpu", None)
    assert not torch.equal(fresh.out.weight, trained.out.weight)


def test_validation_batches_never_hold_one_subject():
    assert [list(r) for r in _batches(5, 2)] == [[0, 1], [2, 3, 4]]
    assert [list(r) for r in _batches(4, 2)] == [[0, 1], [2, 3]]
    assert [list(r) for r in _batches(3, 10)] == [[0, 1, 2]]


def test_validation_loss_is_the_size_weighted_crr_of_its_batches():
    torch.manual_seed(1)
    net = task_network("tiny", in_channels=4, out_channels=2).eval()
    items = [{"image": torch.randn(4, 6, 6, 6), "label": torch.randn(2, 6, 6, 6)} for _ in range(5)]
    loss = CRRLoss(torch.ones(6, 6, 6, dtype=torch.bool), alpha=0.25)
    with torch.no_grad():
        x, y = torch.stack([i["image"] for i in items]), torch.stack([i["label"] for i in items])
        pred = net(x)
        expected = (2 * float(loss(pred[:2], y[:2])) + 3 * float(loss(pred[2:], y[2:]))) / 5
    assert ValidationLoss(items, batch_size=2).compute(net, loss, torch.device("cpu")) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 validation subjects"):
        ValidationLoss(items[:1])
