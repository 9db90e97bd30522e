"""Network measures of connectomes and the statistics the paper compares them with.

* weighted global efficiency: bctpy's ``efficiency_wei`` (Rubinov & Sporns 2010; the paper used bctpy 0.6.1):
  the mean over ordered node pairs of 1 / (shortest path length), path lengths being sums of 1 / weight;
* the Mann-Whitney U test (two-sided, SciPy) between two sets of values;
* the Mantel test: Pearson correlation of the off-diagonal elements of two symmetric matrices, with a p-value
  from permutations of the node order (the ``mantel`` package, as the paper).
"""

from __future__ import annotations

import numpy as np

__all__ = ["global_efficiency", "mann_whitney", "mantel_test", "upper_triangle"]


def global_efficiency(matrix: np.ndarray) -> float:
    """Weighted global efficiency of an undirected weighted network (symmetric, non-negative; diagonal ignored).

    bctpy requires weights in [0, 1]; connectomes normalised to sum 2 satisfy it, and any other matrix is used as
    given (the value scales with the weights)."""
    import bct

    w = np.array(matrix, dtype=np.float64)
    np.fill_diagonal(w, 0.0)
    if not np.allclose(w, w.T):
        raise ValueError("global efficiency: the connectome is not symmetric.")
    if (w < 0).any():
        raise ValueError("global efficiency: the connectome has negative weights.")
    if not w.any():
        return 0.0
    return float(bct.efficiency_wei(w))


def mann_whitney(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Two-sided Mann-Whitney U test: {"u", "p"} (NaN when a set has fewer than two values)."""
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return {"u": float("nan"), "p": float("nan")}
    res = mannwhitneyu(a, b, alternative="two-sided")
    return {"u": float(res.statistic), "p": float(res.pvalue)}


def upper_triangle(matrix: np.ndarray) -> np.ndarray:
    """The elements above the diagonal, row by row (SciPy's condensed order)."""
    i, j = np.triu_indices(matrix.shape[0], k=1)
    return np.asarray(matrix)[i, j]


def mantel_test(a: np.ndarray, b: np.ndarray, permutations: int = 999, seed: int = 0) -> tuple[float, float]:
    """Mantel correlation r and its two-sided permutation p-value between two symmetric matrices.

    ``permutations`` must be positive: the ``mantel`` package reads 0 as "every permutation" (116! for AAL). The
    package draws from NumPy's global generator; it is seeded here and restored afterwards. Constant matrices
    (e.g. an empty connectome) have no correlation: (NaN, NaN)."""
    import mantel

    if permutations < 1:
        raise ValueError("mantel_test: permutations must be >= 1.")
    x, y = upper_triangle(np.asarray(a, dtype=np.float64)), upper_triangle(np.asarray(b, dtype=np.float64))
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), float("nan")
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        result = mantel.test(x, y, perms=permutations, method="pearson", tail="two-tail")
    finally:
        np.random.set_state(state)
    return float(result.r), float(result.p)
