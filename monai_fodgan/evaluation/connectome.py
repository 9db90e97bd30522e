"""Structural connectomes from streamline endpoints and a parcellation (AAL: 116 regions).

The paper's connectome: a 116 x 116 weighted, undirected, symmetric matrix whose element (i, j) sums the weights
(SIFT2) of the streamlines with one end in region i and the other in region j; self-connections are dropped and
each matrix is normalised so that its elements sum to 2 (every connection appears twice). Endpoint assignment
follows MRtrix3's ``tck2connectome``: the label of the voxel holding the endpoint, or with a radial search (its
default, 4 mm) the nearest labelled voxel within the radius.
"""

from __future__ import annotations

import numpy as np

from monai_fodgan.evaluation.streamlines import world_to_voxel

__all__ = ["assign_endpoints", "connectome_from_assignments", "normalise_connectome", "pad_connectome"]


def assign_endpoints(endpoints: np.ndarray, labels: np.ndarray, affine: np.ndarray, radius_mm: float = 4.0) -> np.ndarray:
    """Parcel label (0: none) of each endpoint.

    Args:
        endpoints: (N, 2, 3) first and last point of each streamline, world mm.
        labels: (X, Y, Z) integer parcellation on the grid of ``affine``.
        affine: voxel-to-world of ``labels``.
        radius_mm: radial search radius; 0 assigns only by the endpoint's own voxel (``-assignment_end_voxels``).

    Returns:
        (N, 2) int labels.
    """
    pts = np.asarray(endpoints, dtype=np.float64).reshape(-1, 3)
    ijk = np.rint(world_to_voxel(pts, affine)).astype(np.int64)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(labels.shape)), axis=1)
    out = np.zeros(len(pts), dtype=np.int64)
    out[inside] = labels[tuple(ijk[inside].T)]
    missing = out == 0
    if radius_mm > 0 and missing.any():
        from scipy.spatial import cKDTree

        labelled = np.argwhere(labels > 0)
        if len(labelled):
            centres = labelled @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
            dist, nearest = cKDTree(centres).query(pts[missing], distance_upper_bound=radius_mm)
            found = np.isfinite(dist)
            idx = np.flatnonzero(missing)[found]
            out[idx] = labels[tuple(labelled[nearest[found]].T)]
    return out.reshape(-1, 2)


def connectome_from_assignments(pairs: np.ndarray, n_nodes: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Symmetric (n_nodes, n_nodes) matrix of summed streamline weights (counts when ``weights`` is None) between
    the labelled pairs (N, 2) (labels 1..n_nodes; 0 and self-connections are dropped)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    w = np.ones(len(pairs)) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = (pairs[:, 0] > 0) & (pairs[:, 1] > 0) & (pairs[:, 0] != pairs[:, 1]) & (pairs <= n_nodes).all(axis=1)
    out = np.zeros((n_nodes, n_nodes))
    np.add.at(out, (pairs[keep, 0] - 1, pairs[keep, 1] - 1), w[keep])
    return out + out.T


def pad_connectome(matrix: np.ndarray, n_nodes: int) -> np.ndarray:
    """A connectome grown (with zero rows/columns) or cut to n_nodes: ``tck2connectome`` sizes its output by the
    largest label present, so a parcellation that lost its last regions gives a smaller matrix."""
    out = np.zeros((n_nodes, n_nodes))
    k = min(n_nodes, matrix.shape[0])
    out[:k, :k] = matrix[:k, :k]
    return out


def normalise_connectome(matrix: np.ndarray) -> np.ndarray:
    """The connectome scaled so that its elements sum to 2 (the paper's normalisation; a zero matrix stays zero)."""
    total = float(np.sum(matrix))
    return np.asarray(matrix, dtype=np.float64) * (2.0 / total) if total > 0 else np.zeros_like(matrix, dtype=np.float64)
