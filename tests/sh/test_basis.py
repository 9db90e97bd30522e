"""The SH basis equals DIPY's MRtrix3 basis; counts, indexing and fitting behave."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dipy.reconst.shm import real_sh_tournier

from monai_fodgan.sh import (
    amplitudes_to_sh,
    fibonacci_sphere,
    lmax_from_n_coeffs,
    n_coeffs,
    sh_basis,
    sh_degrees,
    sh_index,
    sh_to_amplitudes,
)


def _random_directions(n: int, seed: int = 0) -> np.ndarray:
    u = np.random.default_rng(seed).normal(size=(n, 3))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


@pytest.mark.parametrize("lmax", [0, 2, 4, 6, 8, 10, 12])
def test_basis_matches_dipy_tournier07_non_legacy(lmax: int) -> None:
    u = _random_directions(300, seed=lmax)
    theta, phi = np.arccos(u[:, 2]), np.arctan2(u[:, 1], u[:, 0])
    expected, m, l = real_sh_tournier(lmax, theta, phi, legacy=False)
    ours = sh_basis(torch.from_numpy(u), lmax).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-12)
    ls, ms = sh_degrees(lmax)
    np.testing.assert_array_equal(ls, l)
    np.testing.assert_array_equal(ms, m)


def test_basis_is_orthonormal_on_the_sphere() -> None:
    u = fibonacci_sphere(20000)
    b = sh_basis(u, 8)
    gram = b.T @ b * (4 * np.pi / u.shape[0])  # quadrature of the integral of Y_i Y_j
    np.testing.assert_allclose(gram.numpy(), np.eye(45), atol=2e-3)


def test_basis_float32_and_poles() -> None:
    poles = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [1e-9, 0.0, 1.0]])
    b = sh_basis(poles, 8)
    assert b.dtype == torch.float32 and torch.isfinite(b).all()
    # at the poles only m = 0 terms survive
    _, ms = sh_degrees(8)
    assert torch.allclose(b[:, torch.from_numpy(ms != 0)], torch.zeros(1), atol=1e-6)


@pytest.mark.parametrize("lmax,n", [(0, 1), (2, 6), (4, 15), (6, 28), (8, 45), (10, 66)])
def test_counts(lmax: int, n: int) -> None:
    assert n_coeffs(lmax) == n
    assert lmax_from_n_coeffs(n) == lmax


@pytest.mark.parametrize("n", [0, 2, 10, 27, 29, 44, 46, 81])
def test_non_sh_counts_are_rejected(n: int) -> None:
    with pytest.raises(ValueError, match="not an even-order spherical-harmonic count"):
        lmax_from_n_coeffs(n)


def test_odd_lmax_rejected() -> None:
    with pytest.raises(ValueError):
        n_coeffs(3)


def test_index_formula() -> None:
    ls, ms = sh_degrees(8)
    for i, (l, m) in enumerate(zip(ls, ms)):
        assert sh_index(int(l), int(m)) == i == l * (l + 1) // 2 + m


def test_amplitudes_round_trip() -> None:
    coeffs = torch.randn(5, 28, dtype=torch.float64)
    dirs = fibonacci_sphere(300)
    back = amplitudes_to_sh(sh_to_amplitudes(coeffs, dirs), dirs, 6)
    torch.testing.assert_close(back, coeffs, atol=1e-10, rtol=0)


def test_fit_needs_enough_directions() -> None:
    with pytest.raises(ValueError, match="cannot determine"):
        amplitudes_to_sh(torch.zeros(10), fibonacci_sphere(10), 6)
