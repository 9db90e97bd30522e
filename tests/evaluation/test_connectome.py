"""Connectomes: endpoint assignment against MRtrix3's tck2connectome, symmetry, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_fodgan.evaluation.connectome import assign_endpoints, connectome_from_assignments, normalise_connectome, pad_connectome
from monai_fodgan.evaluation.streamlines import save_tck
from monai_fodgan.evaluation.tractography.mrtrix_backend import read_mrtrix_matrix
from monai_fodgan.io import save_nifti
from monai_fodgan.mrtrix import run_mrtrix


def _parcellation() -> tuple[np.ndarray, np.ndarray]:
    """Four 4 mm cubes labelled 1..4 on a 2 mm grid, apart from each other."""
    labels = np.zeros((20, 20, 6), dtype=np.int16)
    for k, (i, j) in enumerate([(2, 2), (2, 14), (14, 2), (14, 14)], start=1):
        labels[i:i + 4, j:j + 4, 1:5] = k
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-20.0, -20.0, -6.0)
    return labels, affine


def _random_streamlines(labels: np.ndarray, affine: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """Straight streamlines whose ends lie in or near the labelled cubes (up to 3 mm off a labelled voxel centre),
    or, one end in five, anywhere in the grid."""
    rng = np.random.default_rng(seed)
    anywhere = np.argwhere(np.ones(labels.shape, bool)) @ affine[:3, :3].T + affine[:3, 3]
    labelled = np.argwhere(labels > 0) @ affine[:3, :3].T + affine[:3, 3]

    def end() -> np.ndarray:
        pool = anywhere if rng.random() < 0.2 else labelled
        return pool[rng.integers(len(pool))] + rng.uniform(-3.0, 3.0, 3)

    return [np.linspace(end(), end(), 7).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("radius", [0.0, 4.0])
def test_assignment_matches_tck2connectome(tmp_path: Path, mrtrix: None, radius: float) -> None:
    labels, affine = _parcellation()
    streamlines = _random_streamlines(labels, affine, 400, seed=1)
    tck = save_tck(streamlines, tmp_path / "s.tck")
    parc = save_nifti(labels, affine, tmp_path / "parc.nii", dtype=np.int16)
    option = ["-assignment_end_voxels"] if radius == 0 else ["-assignment_radial_search", radius]
    run_mrtrix("tck2connectome", tck, parc, tmp_path / "c.csv", *option, "-symmetric", "-zero_diagonal")
    expected = pad_connectome(read_mrtrix_matrix(tmp_path / "c.csv"), 4)
    ends = np.stack([np.stack([s[0], s[-1]]) for s in streamlines])
    ours = connectome_from_assignments(assign_endpoints(ends, labels, affine, radius_mm=radius), 4)
    assert expected.sum() > 100  # the test exercises many real connections
    np.testing.assert_array_equal(ours, expected)


def test_connectome_is_symmetric_without_self_connections_and_normalises_to_two() -> None:
    pairs = np.array([[1, 2], [2, 1], [3, 3], [0, 2], [4, 1]])
    m = connectome_from_assignments(pairs, 4, weights=np.array([1.0, 2.0, 5.0, 7.0, 0.5]))
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 3.0
    expected[0, 3] = expected[3, 0] = 0.5
    np.testing.assert_array_equal(m, expected)
    assert normalise_connectome(m).sum() == pytest.approx(2.0)
    assert not normalise_connectome(np.zeros((3, 3))).any()
