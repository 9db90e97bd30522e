"""The CRR loss against a hand-computed batch of 3 tiny subjects."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from monai_fodgan.taskgen.losses import CRRLoss, crr_loss, masked_pairwise_mse

RNG = np.random.default_rng(0)
PRED = RNG.normal(size=(3, 2, 2, 2, 1))
TARGET = RNG.normal(size=(3, 2, 2, 2, 1))
MASK = np.array([[[1], [0]], [[1], [1]]], dtype=bool)  # 3 grey-matter voxels of 4


def _hand_mse(i: int, j: int) -> float:
    total, n = 0.0, 0
    for c, x, y, z in itertools.product(range(2), range(2), range(2), range(1)):
        if MASK[x, y, z]:
            total += (PRED[i, c, x, y, z] - TARGET[j, c, x, y, z]) ** 2
            n += 1
    return total / n


def test_pairwise_matches_loops():
    e = masked_pairwise_mse(torch.tensor(PRED), torch.tensor(TARGET), torch.tensor(MASK))
    expected = np.array([[_hand_mse(i, j) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(e.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("alpha, margin", [(0.25, 0.0), (0.1, 0.5), (0.25, 10.0), (0.25, -10.0)])
def test_crr_matches_hand_computation(alpha, margin):
    recon = np.mean([_hand_mse(i, i) for i in range(3)])
    other = np.mean([_hand_mse(i, j) for i in range(3) for j in range(3) if i != j])
    expected = recon + alpha * max(0.0, recon - other + margin)
    parts = crr_loss(torch.tensor(PRED), torch.tensor(TARGET), torch.tensor(MASK), alpha=alpha, margin=margin)
    np.testing.assert_allclose(parts["loss"].item(), expected, rtol=1e-12)
    np.testing.assert_allclose(parts["recon"].item(), recon, rtol=1e-12)
    np.testing.assert_allclose(parts["other"].item(), other, rtol=1e-12)


def test_voxels_outside_mask_do_not_count():
    pred = torch.tensor(PRED).clone()
    pred[:, :, 0, 1, 0] = 1e6  # outside the mask
    a = crr_loss(pred, torch.tensor(TARGET), torch.tensor(MASK))["loss"]
    b = crr_loss(torch.tensor(PRED), torch.tensor(TARGET), torch.tensor(MASK))["loss"]
    assert torch.allclose(a, b)


def test_group_mean_prediction_is_penalised_and_identity_is_not():
    target = torch.tensor(TARGET)
    mean = target.mean(0, keepdim=True).expand_as(target)
    perfect = crr_loss(target, target, margin=0.1)
    assert perfect["recon"] == 0 and perfect["hinge"] == 0 and perfect["loss"] == 0
    blurred = crr_loss(mean, target, margin=0.1)
    assert blurred["hinge"] > 0  # a prediction no closer to its own subject than to the others


def test_module_gradients_and_last():
    loss_fn = CRRLoss(torch.tensor(MASK), alpha=0.25, margin=1.0)
    pred = torch.tensor(PRED, requires_grad=True)
    loss = loss_fn(pred, torch.tensor(TARGET))
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert pred.grad[:, :, 0, 1, 0].abs().max() == 0
    assert set(loss_fn.last) == {"loss", "recon", "other", "hinge"}


@pytest.mark.parametrize("shape, mask_shape, match", [
    ((1, 2, 2, 2, 1), (2, 2, 1), "at least 2"),
    ((3, 2, 2, 2, 1), (2, 2, 2), "mask shape"),
])
def test_refuses(shape, mask_shape, match):
    with pytest.raises(ValueError, match=match):
        crr_loss(torch.zeros(shape), torch.zeros(shape), torch.ones(mask_shape))
