"""Task-map metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from monai_fodgan.taskgen.metrics import (
    diagonality_index,
    diagonality_normalised,
    dice_auc,
    dice_curve,
    identification_accuracy,
    pearson_per_contrast,
    subject_correlation_matrix,
)

RNG = np.random.default_rng(0)
PRED = RNG.normal(size=(3, 2, 7))
ACTUAL = RNG.normal(size=(3, 2, 7))


def test_pearson_per_contrast_matches_corrcoef():
    r = pearson_per_contrast(PRED, ACTUAL)
    for s in range(3):
        for c in range(2):
            assert r[s, c] == pytest.approx(np.corrcoef(PRED[s, c], ACTUAL[s, c])[0, 1], abs=1e-12)


def test_subject_matrix_matches_loops():
    r = subject_correlation_matrix(PRED[:, 0], ACTUAL[:, 0])
    for i in range(3):
        for j in range(3):
            assert r[i, j] == pytest.approx(np.corrcoef(PRED[i, 0], ACTUAL[j, 0])[0, 1], abs=1e-12)


def test_diagonality_and_identification_hand_computed():
    r = np.array([[0.9, 0.2, 0.4],
                  [0.5, 0.3, 0.1],
                  [0.0, 0.6, 0.8]])
    # diagonal mean (0.9 + 0.3 + 0.8) / 3 = 2/3; off-diagonal mean (0.2 + 0.4 + 0.5 + 0.1 + 0.0 + 0.6) / 6 = 0.3
    assert diagonality_index(r) == pytest.approx(2 / 3 - 0.3)
    assert identification_accuracy(r) == pytest.approx(2 / 3)  # row 1's maximum is off the diagonal
    assert diagonality_normalised(r) == pytest.approx((2 / 3 - 0.3) / (2 / 3))  # the paper's form


def test_identical_maps_identify_perfectly_and_group_mean_does_not():
    actual = ACTUAL[:, 0]
    r = subject_correlation_matrix(actual, actual)
    assert identification_accuracy(r) == 1.0 and diagonality_index(r) > 0
    same = np.repeat(actual.mean(0, keepdims=True), 3, axis=0)
    r_mean = subject_correlation_matrix(same, actual)
    assert diagonality_index(r_mean) == pytest.approx(0.0, abs=1e-12)  # rows identical: no individual information
    assert identification_accuracy(np.ones((3, 3))) == 0.0  # ties are misses


def test_dice_auc_hand_computed():
    pred = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    actual = np.array([9, 10, 1, 2, 3, 4, 5, 6, 7, 8], dtype=float)
    # top 20%: {0, 1} vs {1, 0} -> 1; top 40%: {0,1,2,3} vs {1,0,9,8} -> 2/4
    assert dice_auc(pred, actual, fractions=(0.2,)) == 1.0
    assert dice_auc(pred, actual, fractions=(0.2, 0.4)) == pytest.approx((1.0 + 0.5) / 2)
    assert dice_auc(pred, pred) == 1.0
    np.testing.assert_allclose(dice_curve(pred, actual, fractions=(0.2, 0.4, 0.5)), [1.0, 0.5, 0.4])  # top 50%: 2/5


@pytest.mark.parametrize("func, args", [
    (pearson_per_contrast, (PRED, ACTUAL[:2])),
    (subject_correlation_matrix, (PRED, ACTUAL)),
    (diagonality_index, (np.ones((1, 1)),)),
    (dice_auc, (np.ones(3), np.ones(4))),
])
def test_refuses_bad_shapes(func, args):
    with pytest.raises(ValueError):
        func(*args)
