"""Voxel-to-network connectivity maps from resting-state fMRI: dual-regression stage 1, then Pearson r.

DeepTaskGen's input (Serin et al. 2025, Methods; the authors' code eminSerin/deeptaskgen-paper) is, per
subject, K maps: the Pearson correlation of every voxel's rest time series with each of K group-ICA
component time series. Those component time series come from stage 1 of dual regression: each frame of
the rest data, as a spatial pattern over the mask, is regressed on the K group maps,

    Y = M A + E,    Y: (V, T) data, M: (V, K) group maps, A: (K, T) component time series,
    A = (Mc^T Mc)^-1 Mc^T Y,

with ``Mc`` the maps demeaned over the mask's voxels (FSL ``dual_regression`` stage 1 runs ``fsl_glm
--demean``, which demeans design and data). Demeaning the data as well is not computed because it changes
nothing: ``Mc^T 1 = 0``, so ``Mc^T (Y - 1 m^T) = Mc^T Y``. The connectivity map of component k is then

    r[v, k] = sum_t x[v, t] a[k, t] / sqrt(sum_t x[v, t]^2 * sum_t a[k, t]^2),

with ``x`` and ``a`` centred over time. A voxel whose series is constant gets r = 0 (no correlation can be
defined; 0 is the value a network sees as "no information").

Layout: a 4D NIfTI run is (X, Y, Z, T); the functions here work on the masked matrix (V, T), V the mask's
voxels in C order (``data[mask]``), and return (V, K) maps that :func:`unmask` puts back on the grid as
(X, Y, Z, K). Sums run in float64 over voxel chunks, so an HCP-size run (about 230,000 voxels x 1,200
frames of float32) is never copied whole in float64; results are float32 unless asked otherwise.

Several runs: :func:`pooled_connectivity_maps` gives the correlation over all runs' frames with every run
centred on its own means (run offsets must not count as co-fluctuation), from each run's sums alone.
Sub-samples (the paper: 8 x 600 frames out of HCP's 4 x 1,200) are consecutive windows,
:func:`frame_windows`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "ConnectivityAccumulator",
    "masked_timeseries",
    "unmask",
    "dual_regression_stage1",
    "connectivity_maps",
    "pooled_connectivity_maps",
    "frame_windows",
    "network_connectome",
]

#: voxels per chunk of the float64 sums (about 10 MB per 1,200-frame chunk)
CHUNK = 1024


def masked_timeseries(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(X, Y, Z, T) run and (X, Y, Z) mask -> (V, T) masked series, V = mask voxels in C order, dtype kept.

    Raises:
        ValueError: data not 4D, or mask not of the data's spatial shape.
    """
    data = np.asanyarray(data)
    mask = np.asarray(mask, dtype=bool)
    if data.ndim != 4:
        raise ValueError(f"rest data must be 4D (X, Y, Z, T), got shape {data.shape}.")
    if mask.shape != data.shape[:3]:
        raise ValueError(f"mask shape {mask.shape} differs from the data's grid {data.shape[:3]}.")
    return data[mask]


def unmask(values: np.ndarray, mask: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """(V, K) or (V,) values back on the grid: (X, Y, Z, K) or (X, Y, Z), ``fill`` outside the mask."""
    mask = np.asarray(mask, dtype=bool)
    out = np.full(mask.shape + values.shape[1:], fill, dtype=values.dtype)
    out[mask] = values
    return out


def dual_regression_stage1(data: np.ndarray, maps: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Component time series of a rest run: spatial regression of every frame on the group maps.

    Args:
        data: (V, T) masked rest series (any float dtype).
        maps: (V, K) group component maps over the same voxels (e.g. group-ICA z-maps).
        chunk: voxels per float64 chunk.

    Returns:
        (T, K) float64 time series ``A^T`` (see the module docstring), maps demeaned over voxels as FSL does.

    Raises:
        ValueError: mismatched voxel counts, or maps that are linearly dependent over the mask.

    Example::

        ts = dual_regression_stage1(masked_timeseries(run, mask), masked_timeseries(group, mask))
    """
    if data.ndim != 2 or maps.ndim != 2 or data.shape[0] != maps.shape[0]:
        raise ValueError(f"data (V, T) and maps (V, K) must share V, got {data.shape} and {maps.shape}.")
    mc = np.asarray(maps, dtype=np.float64)
    mc = mc - mc.mean(axis=0)
    gram = mc.T @ mc
    if np.linalg.matrix_rank(gram) < gram.shape[0]:
        raise ValueError(f"the {maps.shape[1]} group maps are linearly dependent within the mask.")
    rhs = np.zeros((maps.shape[1], data.shape[1]))
    for start in range(0, data.shape[0], chunk):
        rhs += mc[start:start + chunk].T @ np.asarray(data[start:start + chunk], dtype=np.float64)
    return np.linalg.solve(gram, rhs).T


def _sums(data: np.ndarray, ts: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temporally centred cross-products of one run: (x a^T (V, K), x x (V,), a a (K,)), float64."""
    if data.ndim != 2 or ts.ndim != 2 or data.shape[1] != ts.shape[0]:
        raise ValueError(f"data (V, T) and time series (T, K) must share T, got {data.shape} and {ts.shape}.")
    a = np.asarray(ts, dtype=np.float64)
    a = a - a.mean(axis=0)
    xa = np.empty((data.shape[0], a.shape[1]))
    xx = np.empty(data.shape[0])
    for start in range(0, data.shape[0], chunk):
        x = np.asarray(data[start:start + chunk], dtype=np.float64)
        x = x - x.mean(axis=1, keepdims=True)
        xa[start:start + chunk] = x @ a
        xx[start:start + chunk] = np.einsum("vt,vt->v", x, x)
    return xa, xx, np.einsum("tk,tk->k", a, a)


def _correlation(xa: np.ndarray, xx: np.ndarray, aa: np.ndarray, dtype: type) -> np.ndarray:
    denom = np.sqrt(np.outer(xx, aa))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denom > 0, xa / np.where(denom > 0, denom, 1.0), 0.0)
    return np.clip(r, -1.0, 1.0).astype(dtype)


def connectivity_maps(data: np.ndarray, ts: np.ndarray, chunk: int = CHUNK, dtype: type = np.float32) -> np.ndarray:
    """Pearson r of every voxel's series with every component's: (V, T), (T, K) -> (V, K) in [-1, 1].

    Constant voxels (or components) give 0. Same values as ``np.corrcoef`` row by row, in float64 sums."""
    return _correlation(*_sums(data, ts, chunk), dtype)


class ConnectivityAccumulator:
    """Pooled connectivity over runs added one at a time: only the (V, K) sums are kept, never the runs.

    Example::

        acc = ConnectivityAccumulator()
        for run in runs:                       # each (V, T_i), loaded and dropped in turn
            acc.add(run, dual_regression_stage1(run, maps))
        r = acc.maps()                         # (V, K)
    """

    def __init__(self, chunk: int = CHUNK) -> None:
        self.chunk = chunk
        self.sums: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, data: np.ndarray, ts: np.ndarray) -> None:
        """Add one run: (V, T) masked series and its (T, K) component series, centred on this run's means."""
        sums = _sums(data, ts, self.chunk)
        self.sums = sums if self.sums is None else tuple(t + s for t, s in zip(self.sums, sums))

    def maps(self, dtype: type = np.float32) -> np.ndarray:
        """(V, K) Pearson r over every frame added so far."""
        if self.sums is None:
            raise ValueError("no runs added.")
        return _correlation(*self.sums, dtype)


def pooled_connectivity_maps(runs: Sequence[tuple[np.ndarray, np.ndarray]], chunk: int = CHUNK,
                             dtype: type = np.float32) -> np.ndarray:
    """Pearson r over several runs' frames, each run centred on its own means: [(V, T_i), (T_i, K)] -> (V, K).

    Equal to :func:`connectivity_maps` of the concatenated runs after each run's voxel and component series
    are demeaned over that run's frames; computed from per-run sums (:class:`ConnectivityAccumulator`)."""
    if not runs:
        raise ValueError("no runs given.")
    acc = ConnectivityAccumulator(chunk)
    for data, ts in runs:
        acc.add(data, ts)
    return acc.maps(dtype)


def frame_windows(n_frames: int, length: int, first: int = 0) -> list[slice]:
    """Consecutive, non-overlapping windows of ``length`` frames; the remainder (< length frames) is dropped.

    HCP's 1,200-frame run with ``length=600`` gives two windows, so 4 runs give the paper's 8 sub-samples.

    Raises:
        ValueError: ``length`` < 2 (no correlation) or longer than the run.
    """
    if length < 2:
        raise ValueError(f"a sub-sample needs at least 2 frames, got length {length}.")
    if length > n_frames - first:
        raise ValueError(f"a {length}-frame sub-sample does not fit in {n_frames - first} frames.")
    return [slice(s, s + length) for s in range(first, n_frames - length + 1, length)]


def network_connectome(ts: np.ndarray) -> np.ndarray:
    """K x K Pearson correlation of the component time series (T, K): the rest "connectome" baseline."""
    return np.corrcoef(np.asarray(ts, dtype=np.float64), rowvar=False)
