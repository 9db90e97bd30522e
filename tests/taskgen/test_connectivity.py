"""Dual regression stage 1 and connectivity maps against hand-computed tiny cases."""

from __future__ import annotations

import numpy as np
import pytest

from monai_fodgan.taskgen.connectivity import (
    ConnectivityAccumulator,
    connectivity_maps,
    dual_regression_stage1,
    frame_windows,
    masked_timeseries,
    network_connectome,
    pooled_connectivity_maps,
    unmask,
)

# 2 components over 5 voxels, 6 frames
MAPS = np.array([[1.0, 0.0], [2.0, 0.5], [0.0, 1.0], [0.5, 2.0], [1.0, 1.0]])
DATA = np.array([
    [1.0, 2.0, 0.5, 3.0, 1.5, 2.5],
    [0.0, 1.0, 4.0, 1.0, 2.0, 0.5],
    [2.0, 2.0, 1.0, 0.0, 3.0, 1.0],
    [1.0, 0.0, 2.0, 2.0, 1.0, 4.0],
    [3.0, 1.0, 1.0, 2.0, 0.0, 2.0],
])


def test_stage1_matches_per_frame_lstsq_with_demeaned_maps():
    """Each frame regressed on the demeaned maps plus an intercept (FSL's --demean), one lstsq per frame."""
    ts = dual_regression_stage1(DATA, MAPS)
    design = np.column_stack([MAPS - MAPS.mean(axis=0), np.ones(5)])
    for t in range(6):
        expected = np.linalg.lstsq(design, DATA[:, t], rcond=None)[0][:2]
        np.testing.assert_allclose(ts[t], expected, rtol=1e-12, atol=1e-12)


def test_stage1_recovers_exact_mixture():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 6))
    ts = dual_regression_stage1(MAPS @ a + 7.0, MAPS)  # a spatially constant offset is ignored
    np.testing.assert_allclose(ts, a.T, atol=1e-12)


def test_stage1_refuses_dependent_maps():
    with pytest.raises(ValueError, match="linearly dependent"):
        dual_regression_stage1(DATA, np.column_stack([MAPS[:, 0], 2 * MAPS[:, 0] + 1]))


@pytest.mark.parametrize("chunk", [1, 2, 1024])
def test_connectivity_matches_corrcoef_loop(chunk):
    ts = dual_regression_stage1(DATA, MAPS)
    r = connectivity_maps(DATA, ts, chunk=chunk, dtype=np.float64)
    for v in range(5):
        for k in range(2):
            np.testing.assert_allclose(r[v, k], np.corrcoef(DATA[v], ts[:, k])[0, 1], atol=1e-12)


def test_voxel_equal_to_component_correlates_one():
    ts = dual_regression_stage1(DATA, MAPS)
    data = np.vstack([DATA, 3.0 * ts[:, 1] + 100.0, -ts[:, 0]])
    r = connectivity_maps(data, ts)
    assert r.dtype == np.float32
    np.testing.assert_allclose(r[5, 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[6, 0], -1.0, atol=1e-6)


def test_constant_voxel_gives_zero():
    r = connectivity_maps(np.vstack([DATA, np.full(6, 5.0)]), dual_regression_stage1(DATA, MAPS))
    assert np.all(r[5] == 0) and np.all(np.isfinite(r))


def test_float32_large_offset_keeps_precision():
    """fMRI intensities (about 10,000) with 1% fluctuations: float32 input, float64 sums."""
    rng = np.random.default_rng(1)
    ts = rng.normal(size=(300, 3))
    data = (10_000 + 100 * (ts @ rng.normal(size=(3, 50))).T + rng.normal(size=(50, 300))).astype(np.float32)
    expected = np.array([[np.corrcoef(data[v].astype(np.float64), ts[:, k])[0, 1] for k in range(3)] for v in range(50)])
    np.testing.assert_allclose(connectivity_maps(data, ts), expected, atol=1e-5)


def test_pooled_equals_concatenation_of_run_centred_series():
    rng = np.random.default_rng(2)
    runs = [(rng.normal(size=(5, 8)) + 10 * i, rng.normal(size=(8, 2)) - 3 * i) for i in range(3)]
    centred_x = np.hstack([x - x.mean(axis=1, keepdims=True) for x, _ in runs])
    centred_a = np.vstack([a - a.mean(axis=0) for _, a in runs])
    np.testing.assert_allclose(pooled_connectivity_maps(runs, dtype=np.float64),
                               connectivity_maps(centred_x, centred_a, dtype=np.float64), atol=1e-12)


def test_masked_roundtrip_and_checks():
    rng = np.random.default_rng(3)
    run = rng.normal(size=(3, 4, 2, 6))
    mask = rng.random((3, 4, 2)) > 0.4
    series = masked_timeseries(run, mask)
    assert series.shape == (mask.sum(), 6)
    back = unmask(series, mask)
    np.testing.assert_array_equal(back[mask], run[mask])
    assert np.all(back[~mask] == 0)
    with pytest.raises(ValueError, match="4D"):
        masked_timeseries(run[..., 0], mask)
    with pytest.raises(ValueError, match="mask shape"):
        masked_timeseries(run, mask[:2])


@pytest.mark.parametrize("n, length, expected", [
    (1200, 600, [slice(0, 600), slice(600, 1200)]),
    (1250, 600, [slice(0, 600), slice(600, 1200)]),
    (6, 6, [slice(0, 6)]),
])
def test_frame_windows(n, length, expected):
    assert frame_windows(n, length) == expected


@pytest.mark.parametrize("n, length", [(100, 1), (100, 101)])
def test_frame_windows_refuses(n, length):
    with pytest.raises(ValueError):
        frame_windows(n, length)


def test_network_connectome_is_corrcoef():
    ts = dual_regression_stage1(DATA, MAPS)
    c = network_connectome(ts)
    assert c.shape == (2, 2)
    np.testing.assert_allclose(c[0, 1], np.corrcoef(ts[:, 0], ts[:, 1])[0, 1])


def test_accumulator_adds_runs_one_at_a_time():
    rng = np.random.default_rng(4)
    runs = [(rng.normal(size=(5, 9)), rng.normal(size=(9, 2))) for _ in range(2)]
    acc = ConnectivityAccumulator(chunk=2)
    for data, ts in runs:
        acc.add(data, ts)
    np.testing.assert_allclose(acc.maps(np.float64), pooled_connectivity_maps(runs, dtype=np.float64), atol=1e-12)
    with pytest.raises(ValueError, match="no runs"):
        ConnectivityAccumulator().maps()
