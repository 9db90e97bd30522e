"""How well predicted task maps match actual ones, and whether they stay individual (Serin et al. 2025).

All functions take maps already restricted to the evaluation mask (grey matter): arrays whose last axis is the
V mask voxels. Subjects are ``S``, contrasts ``C``.

* :func:`pearson_per_contrast`: r between each subject's predicted and actual map, per contrast, (S, C).
* :func:`subject_correlation_matrix`: for one contrast, ``R[i, j] = corr(predicted_i, actual_j)``, (S, S): row i
  asks "which actual map does subject i's prediction resemble?".
* :func:`diagonality_index`: ``mean_i R[i, i] - mean_{i != j} R[i, j]``: the mean correlation of a
  prediction with its own subject's actual map minus the mean with the other subjects' (0: predictions carry no
  individual information, as the group average; our own definition, stated exactly because papers vary on it).
* :func:`identification_accuracy`: the fraction of rows whose maximum is on the diagonal (top-1; chance 1/S).
* :func:`dice_auc`: Dice overlap of the top-f voxels of predicted and actual maps for f from 5% to 50%, as the
  normalised area under the Dice-versus-f curve (trapezoid, divided by the f range, so in [0, 1]).

Correlations use the raw maps (no subtraction of the group mean), as the paper's matrices; pass demeaned maps
to measure the individual part alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pearson_per_contrast", "subject_correlation_matrix", "diagonality_index", "identification_accuracy",
           "diagonality_normalised", "dice_curve", "dice_auc", "DICE_FRACTIONS"]

#: top-voxel fractions of the Dice-AUC (5%, 10%, ..., 50%)
DICE_FRACTIONS = tuple(np.round(np.arange(0.05, 0.501, 0.05), 2))


def _standardise(x: np.ndarray) -> np.ndarray:
    """Centre and scale along the last axis (float64); constant rows become 0."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def pearson_per_contrast(pred: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """(S, C, V) predicted and actual maps -> (S, C) Pearson r over the voxels."""
    if np.shape(pred) != np.shape(actual):
        raise ValueError(f"pred and actual must have the same shape, got {np.shape(pred)} and {np.shape(actual)}.")
    return np.sum(_standardise(pred) * _standardise(actual), axis=-1)


def subject_correlation_matrix(pred: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """(S, V) predicted and actual maps of one contrast -> (S, S) with ``R[i, j] = corr(pred_i, actual_j)``."""
    if np.ndim(pred) != 2 or np.shape(pred) != np.shape(actual):
        raise ValueError(f"pred and actual must both be (S, V), got {np.shape(pred)} and {np.shape(actual)}.")
    return _standardise(pred) @ _standardise(actual).T


def diagonality_index(r: np.ndarray) -> float:
    """Mean of the diagonal of a square (S, S) matrix minus the mean of its off-diagonal entries, S >= 2."""
    r = np.asarray(r, dtype=np.float64)
    s = r.shape[0]
    if r.ndim != 2 or r.shape[1] != s or s < 2:
        raise ValueError(f"need a square matrix of at least 2 x 2, got {r.shape}.")
    diag = np.trace(r) / s
    return float(diag - (r.sum() - np.trace(r)) / (s * (s - 1)))


def diagonality_normalised(r: np.ndarray) -> float:
    """The paper's form: :func:`diagonality_index` divided by the mean of the diagonal (Serin et al. 2025, Fig. 1)."""
    r = np.asarray(r, dtype=np.float64)
    diag = np.trace(r) / r.shape[0]
    return float(diagonality_index(r) / diag) if diag != 0 else float("nan")


def identification_accuracy(r: np.ndarray) -> float:
    """Top-1 identification: fraction of rows i with ``argmax_j R[i, j] == i`` (ties count as misses)."""
    r = np.asarray(r)
    best = r.max(axis=1, keepdims=True)
    hits = (np.diag(r) == best[:, 0]) & ((r == best).sum(axis=1) == 1)
    return float(hits.mean())


def dice_curve(pred: np.ndarray, actual: np.ndarray, fractions: tuple[float, ...] = DICE_FRACTIONS) -> np.ndarray:
    """Dice of the top-f voxels (highest values) of two (V,) maps for each f in ``fractions``.

    With the same number of voxels n_f = round(f V) selected in both maps, Dice = |A & B| / n_f."""
    pred, actual = np.ravel(pred), np.ravel(actual)
    if pred.shape != actual.shape:
        raise ValueError(f"maps differ in size: {pred.shape} and {actual.shape}.")
    order_p, order_a = np.argsort(-pred, kind="stable"), np.argsort(-actual, kind="stable")
    dice = []
    for f in fractions:
        n = max(int(round(f * pred.size)), 1)
        dice.append(np.intersect1d(order_p[:n], order_a[:n]).size / n)
    return np.asarray(dice)


def dice_auc(pred: np.ndarray, actual: np.ndarray, fractions: tuple[float, ...] = DICE_FRACTIONS) -> float:
    """Normalised area under :func:`dice_curve` (trapezoid rule divided by the f range, so in [0, 1])."""
    d = dice_curve(pred, actual, fractions)
    if len(fractions) == 1:
        return float(d[0])
    f = np.asarray(fractions, dtype=np.float64)
    area = np.sum((d[1:] + d[:-1]) / 2 * np.diff(f))  # trapezoid rule (np.trapezoid needs numpy >= 2)
    return float(area / (f[-1] - f[0]))
