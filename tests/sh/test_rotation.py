"""SH rotation matrices: f'(u) = f(R^T u), group structure, orthogonality, peaks, reflections, batching."""

from __future__ import annotations

import pytest
import torch
from scipy.spatial.transform import Rotation

from monai_fodgan.data import fibre_lobe
from monai_fodgan.geometry import rotation_from_angles
from monai_fodgan.sh import band_slices, fibonacci_sphere, n_coeffs, rotate_sh, sh_rotation_matrix, sh_to_amplitudes

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _random_rotation(seed: int) -> torch.Tensor:
    return torch.from_numpy(Rotation.random(random_state=seed).as_matrix())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("lmax", [2, 4, 6, 8, 10])
def test_rotated_function_on_dense_sphere(lmax: int, device: str) -> None:
    r = _random_rotation(lmax).to(device)
    coeffs = torch.randn(n_coeffs(lmax), dtype=torch.float64, device=device)
    dirs = fibonacci_sphere(2000, device=device)
    rotated = sh_rotation_matrix(r, lmax) @ coeffs
    # f'(u) = f(R^T u); rows of dirs @ r are (R^T u)^T
    torch.testing.assert_close(sh_to_amplitudes(rotated, dirs), sh_to_amplitudes(coeffs, dirs @ r), atol=1e-10, rtol=0)


@pytest.mark.parametrize("lmax", [6, 10])
def test_composition_and_orthogonality(lmax: int) -> None:
    r1, r2 = _random_rotation(1), _random_rotation(2)
    m1, m2, m12 = (sh_rotation_matrix(r, lmax) for r in (r1, r2, r1 @ r2))
    torch.testing.assert_close(m12, m1 @ m2, atol=1e-10, rtol=0)
    eye = torch.eye(n_coeffs(lmax), dtype=torch.float64)
    torch.testing.assert_close(m1 @ m1.T, eye, atol=1e-10, rtol=0)
    torch.testing.assert_close(sh_rotation_matrix(r1.T, lmax), m1.T, atol=1e-10, rtol=0)


def test_block_diagonal() -> None:
    m = sh_rotation_matrix(_random_rotation(3), 8)
    mask = torch.zeros_like(m, dtype=torch.bool)
    for sl in band_slices(8):
        mask[sl, sl] = True
    assert (m[~mask] == 0).all()
    assert (m[mask].abs() > 0).any()
    assert m[0, 0] == pytest.approx(1.0, abs=1e-12)  # l = 0 is rotation invariant


def _peak(coeffs: torch.Tensor) -> torch.Tensor:
    dirs = fibonacci_sphere(40000)
    return dirs[sh_to_amplitudes(coeffs, dirs).argmax()]


@pytest.mark.parametrize("seed", range(4))
def test_single_fibre_peak_moves_where_rotation_sends_it(seed: int) -> None:
    v = torch.nn.functional.normalize(torch.randn(3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)), dim=0)
    r = _random_rotation(seed + 10)
    peak = _peak(sh_rotation_matrix(r, 8) @ fibre_lobe(v, 8))
    target = r @ v
    assert abs(float(peak @ target)) > 0.999  # antipodal symmetry: +-Rv
    assert abs(float(peak @ v)) < 0.99 or abs(float(target @ v)) > 0.99  # it really moved


def test_reflection_mirrors_peak() -> None:
    v = torch.nn.functional.normalize(torch.tensor([0.6, 0.3, 0.2], dtype=torch.float64), dim=0)
    flip_x = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    m = sh_rotation_matrix(flip_x, 8)
    peak = _peak(m @ fibre_lobe(v, 8))
    assert abs(float(peak @ (flip_x @ v))) > 0.999
    torch.testing.assert_close(m @ m, torch.eye(45, dtype=torch.float64), atol=1e-10, rtol=0)
    # point reflection -I is the identity on even orders
    torch.testing.assert_close(sh_rotation_matrix(-torch.eye(3, dtype=torch.float64), 8), torch.eye(45, dtype=torch.float64), atol=1e-10, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_batched_float32(device: str) -> None:
    rs = torch.stack([_random_rotation(s) for s in range(5)]).to(device)
    batched = sh_rotation_matrix(rs.float(), 6)
    assert batched.shape == (5, 28, 28) and batched.dtype == torch.float32 and batched.device.type == device
    for i in range(5):
        torch.testing.assert_close(batched[i].double(), sh_rotation_matrix(rs[i], 6), atol=1e-5, rtol=0)


def test_differentiable_in_angles() -> None:
    angles = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    coeffs = torch.randn(28, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: sh_rotation_matrix(rotation_from_angles(a), 6) @ coeffs, (angles,))


def test_rotate_sh_channel_dim() -> None:
    r = _random_rotation(7)
    img = torch.randn(28, 3, 4, 5, dtype=torch.float64)
    out = rotate_sh(img, r, channel_dim=0)
    expected = torch.einsum("ij,jxyz->ixyz", sh_rotation_matrix(r, 6), img)
    torch.testing.assert_close(out, expected)


def test_rejects_non_orthogonal_shape() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        sh_rotation_matrix(torch.eye(4), 6)
