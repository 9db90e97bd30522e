"""The group-average and Tavor-regression baselines."""

from __future__ import annotations

import numpy as np
import pytest

from monai_fodgan.taskgen.baselines import TavorRegression, group_average

RNG = np.random.default_rng(0)


def test_group_average():
    y = RNG.normal(size=(4, 2, 5))
    np.testing.assert_allclose(group_average(y), (y[0] + y[1] + y[2] + y[3]) / 4)


def test_tavor_recovers_a_shared_linear_model():
    """Task maps that ARE a linear function of the z-scored connectivity maps are predicted exactly."""
    beta = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])  # (C, K)
    x = RNG.normal(size=(5, 3, 40))
    z = (x - x.mean(2, keepdims=True)) / x.std(2, keepdims=True)
    y = np.einsum("ck,skv->scv", beta, z) + 0.7
    model = TavorRegression().fit(x[:4], y[:4])
    np.testing.assert_allclose(model.predict(x[4:]), y[4:], atol=1e-10)
    np.testing.assert_allclose(model.coef_[0][:3].T, beta, atol=1e-10)


def test_tavor_per_parcel_matches_a_loop():
    x, y = RNG.normal(size=(3, 2, 12)), RNG.normal(size=(3, 1, 12))
    parcels = np.repeat([0, 1, 2], 4)
    model = TavorRegression(parcels).fit(x, y)
    for p in range(3):
        idx = parcels == p
        coefs = []
        for s in range(3):
            xs = x[s][:, idx]
            design = np.column_stack([((xs.T - xs.mean(1)) / xs.std(1)), np.ones(4)])
            coefs.append(np.linalg.lstsq(design, y[s, 0, idx], rcond=None)[0])
        np.testing.assert_allclose(model.coef_[p][:, 0], np.mean(coefs, axis=0), atol=1e-10)


def test_tavor_refuses():
    with pytest.raises(RuntimeError):
        TavorRegression().predict(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError):
        TavorRegression().fit(np.zeros((2, 2, 3)), np.zeros((3, 1, 3)))
    with pytest.raises(ValueError):
        TavorRegression(np.zeros(4)).fit(np.zeros((2, 2, 3)), np.zeros((2, 1, 3)))
