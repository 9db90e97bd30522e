"""The two baselines DeepTaskGen is compared with: the group-average map and Tavor-style linear regression.

Arrays are restricted to the mask: connectivity maps X (S, K, V), task maps Y (S, C, V), V mask voxels.

* :func:`group_average`: every subject is predicted by the training subjects' mean map: no individual
  information at all, so its diagonality index is 0 by construction; the floor a model must clear.
* :class:`TavorRegression` (Tavor et al. 2016, Science 352:216, as in the DeepTaskGen authors' code): for each
  training subject, each contrast is regressed over the voxels of a parcel on the subject's K connectivity
  maps, each z-scored over those voxels (``y_c(v) = sum_k beta_ck z_k(v) + b_c``, ordinary least squares);
  the coefficients are averaged over training subjects, and a new subject is predicted from its own z-scored
  maps. ``parcels`` (V,) labels give one model per parcel (Tavor's parcellation); None fits one model on the
  whole mask, as the authors' code does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_average", "TavorRegression"]


def group_average(y_train: np.ndarray) -> np.ndarray:
    """(S, C, V) training task maps -> (C, V) their mean, the prediction for every subject."""
    return np.asarray(y_train, dtype=np.float64).mean(axis=0)


def _zscore(x: np.ndarray) -> np.ndarray:
    """z-score the rows of (K, n) over the n voxels; constant rows become 0."""
    x = x - x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)


class TavorRegression:
    """Linear regression of task maps on connectivity maps, per parcel, averaged over training subjects.

    Args:
        parcels: (V,) integer parcel of each voxel, or None for one parcel.

    Attributes (after ``fit``):
        coef_: {parcel: (K + 1, C)} averaged coefficients, the intercept last.

    Example::

        model = TavorRegression().fit(x_train, y_train)    # (S, K, V), (S, C, V)
        y_hat = model.predict(x_test)                       # (S', C, V)
    """

    def __init__(self, parcels: np.ndarray | None = None) -> None:
        self.parcels = None if parcels is None else np.asarray(parcels)
        self.coef_: dict[int, np.ndarray] = {}

    def _groups(self, v: int) -> dict[int, np.ndarray]:
        labels = np.zeros(v, dtype=int) if self.parcels is None else self.parcels
        if labels.shape != (v,):
            raise ValueError(f"parcels must be ({v},), got {labels.shape}.")
        return {int(p): np.flatnonzero(labels == p) for p in np.unique(labels)}

    @staticmethod
    def _design(x: np.ndarray) -> np.ndarray:
        """(K, n) maps of one parcel -> (n, K + 1) design: z-scored maps and an intercept column."""
        return np.column_stack([_zscore(np.asarray(x, dtype=np.float64)).T, np.ones(x.shape[1])])

    def fit(self, x: np.ndarray, y: np.ndarray) -> TavorRegression:
        """Fit on (S, K, V) connectivity maps and (S, C, V) task maps of the training subjects."""
        if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
            raise ValueError(f"x (S, K, V) and y (S, C, V) must share S and V, got {x.shape} and {y.shape}.")
        self.coef_ = {}
        for p, idx in self._groups(x.shape[2]).items():
            per_subject = [np.linalg.lstsq(self._design(x[s][:, idx]), np.asarray(y[s][:, idx], dtype=np.float64).T,
                                           rcond=None)[0] for s in range(x.shape[0])]
            self.coef_[p] = np.mean(per_subject, axis=0)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(S, K, V) connectivity maps -> (S, C, V) predicted task maps."""
        if not self.coef_:
            raise RuntimeError("call fit first.")
        c = next(iter(self.coef_.values())).shape[1]
        out = np.zeros((x.shape[0], c, x.shape[2]))
        for p, idx in self._groups(x.shape[2]).items():
            for s in range(x.shape[0]):
                out[s][:, idx] = (self._design(x[s][:, idx]) @ self.coef_[p]).T
        return out
