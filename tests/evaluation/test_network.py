"""Network measures with known answers: global efficiency, Mantel test, Mann-Whitney U."""

from __future__ import annotations

import numpy as np
import pytest

from monai_fodgan.evaluation.network import global_efficiency, mann_whitney, mantel_test


def test_global_efficiency_of_a_hand_made_graph() -> None:
    # path lengths are 1 / weight: d(0,1) = 1, d(0,2) = 2, d(1,2) = 3 through node 0
    w = np.array([[0, 1.0, 0.5], [1.0, 0, 0], [0.5, 0, 0]])
    expected = (1 / 1 + 1 / 2 + 1 / 3) * 2 / 6
    assert global_efficiency(w) == pytest.approx(expected)
    import bct

    assert global_efficiency(w) == pytest.approx(bct.efficiency_wei(w))


def test_global_efficiency_ignores_the_diagonal_and_checks_symmetry() -> None:
    w = np.array([[0.7, 1.0, 0.5], [1.0, 0.3, 0], [0.5, 0, 0.0]])
    assert global_efficiency(w) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    with pytest.raises(ValueError, match="not symmetric"):
        global_efficiency(np.array([[0, 1.0], [0.5, 0]]))


def _random_symmetric(n: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).random((n, n))
    a = a + a.T
    np.fill_diagonal(a, 0)
    return a


def test_mantel_identical_matrices_give_r_one() -> None:
    a = _random_symmetric(20, 0)
    r, p = mantel_test(a, a, permutations=199, seed=0)
    assert r == pytest.approx(1.0)
    assert p <= 0.01


def test_mantel_relabelled_nodes_and_independent_matrices() -> None:
    a = _random_symmetric(30, 1)
    order = np.random.default_rng(2).permutation(30)
    r_perm, _ = mantel_test(a, a[np.ix_(order, order)], permutations=99)
    r_indep, p_indep = mantel_test(a, _random_symmetric(30, 3), permutations=199, seed=1)
    assert abs(r_perm) < 0.3 and abs(r_indep) < 0.3 and p_indep > 0.01
    # reproducible and leaves NumPy's global generator as it was
    state = np.random.get_state()[1].copy()
    assert mantel_test(a, _random_symmetric(30, 3), permutations=199, seed=1) == (r_indep, p_indep)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_mann_whitney_separated_samples() -> None:
    res = mann_whitney(np.arange(10.0), np.arange(10.0) + 100)
    assert res["u"] == 0.0 and res["p"] < 1e-3
