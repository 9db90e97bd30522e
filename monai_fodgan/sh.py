"""Real, even-order spherical harmonics (SH) in MRtrix3's convention, and their rotation.

The convention (the contract every other module relies on):

* Basis: MRtrix3's real, orthonormal SH basis, identical to DIPY's ``tournier07`` basis with
  ``legacy=False`` (``dipy.reconst.shm.real_sh_tournier``)::

      Y_lm = sqrt(2) * Re(Y_l^m)     m > 0
      Y_l0 = Y_l^0                   m = 0
      Y_lm = sqrt(2) * Im(Y_l^|m|)   m < 0

  where ``Y_l^m`` is the complex SH with the Condon-Shortley phase (as in ``scipy.special.sph_harm``).
  Tournier et al., NeuroImage 2019, "MRtrix3: a fast, flexible and open software framework".
* Orders: only even l (FODs are antipodally symmetric). Coefficients are ordered by l = 0, 2, 4, ...
  and within each l by m = -l..l: ``index = l (l + 1) / 2 + m``; ``lmax`` has
  ``(lmax + 1)(lmax + 2) / 2`` coefficients (6 -> 28, 8 -> 45).
* Frame: directions are unit vectors in the frame the coefficients are stored in. MRtrix3 stores FOD
  coefficients in the WORLD (scanner RAS) frame, not along the voxel axes.
* Rotation: a rotation (or reflection) R acts on a function on the sphere by ``f'(u) = f(R^T u)``. On the
  coefficients this is a block-diagonal orthogonal matrix ``M(R)`` (one (2l+1)-block per l) with
  ``c' = M(R) c``, computed exactly by sampling: ``M_l(R) = pinv(Y_l(U)) Y_l(U R)`` for a fixed set of
  well-spread directions U (rows), since a rotated degree-l harmonic is again a degree-l harmonic.

Everything is written in torch (CPU or CUDA, float32 or float64, differentiable, batched over leading
dimensions); numpy arrays are accepted and converted.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

__all__ = [
    "n_coeffs",
    "lmax_from_n_coeffs",
    "sh_index",
    "sh_degrees",
    "band_slices",
    "fibonacci_sphere",
    "sh_basis",
    "sh_to_amplitudes",
    "amplitudes_to_sh",
    "sh_rotation_matrix",
    "rotate_sh",
    "angular_correlation",
]


def n_coeffs(lmax: int) -> int:
    """Number of even-order SH coefficients up to ``lmax``: ``(lmax + 1)(lmax + 2) / 2``.

    Raises:
        ValueError: when ``lmax`` is negative or odd.
    """
    if lmax < 0 or lmax % 2:
        raise ValueError(f"lmax must be a non-negative even integer, got {lmax}.")
    return (lmax + 1) * (lmax + 2) // 2


def lmax_from_n_coeffs(n: int) -> int:
    """Inverse of :func:`n_coeffs`: the even ``lmax`` whose basis has exactly ``n`` coefficients.

    Raises:
        ValueError: when ``n`` is not of the form ``(l + 1)(l + 2) / 2`` for an even l
            (1, 6, 15, 28, 45, 66, ...), i.e. the data is not an even-order SH image.
    """
    lmax = int(round((math.sqrt(8 * n + 1) - 3) / 2)) if n > 0 else -1
    if lmax < 0 or lmax % 2 or n_coeffs(lmax) != n:
        valid = ", ".join(str(n_coeffs(l)) for l in range(0, 14, 2))
        raise ValueError(
            f"{n} volumes is not an even-order spherical-harmonic count (valid counts: {valid}, ...): "
            "this is not an FOD image in MRtrix3's SH basis."
        )
    return lmax


def sh_index(l: int, m: int) -> int:
    """Position of coefficient (l, m) in MRtrix3's ordering: ``l (l + 1) / 2 + m`` (l even, |m| <= l)."""
    if l % 2 or abs(m) > l:
        raise ValueError(f"no even-order SH coefficient (l={l}, m={m}).")
    return l * (l + 1) // 2 + m


def sh_degrees(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Degree ``l`` and order ``m`` of every coefficient up to ``lmax``, in storage order."""
    ls = [l for l in range(0, lmax + 1, 2) for _ in range(-l, l + 1)]
    ms = [m for l in range(0, lmax + 1, 2) for m in range(-l, l + 1)]
    return np.asarray(ls), np.asarray(ms)


def band_slices(lmax: int) -> list[slice]:
    """One slice per even l into the coefficient axis: the (2l + 1) coefficients of that band."""
    return [slice(n_coeffs(l) - (2 * l + 1), n_coeffs(l)) for l in range(0, lmax + 1, 2)]


def fibonacci_sphere(n: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` nearly uniformly spread unit vectors on the whole sphere (Fibonacci lattice), shape (n, 3)."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    r = torch.sqrt(torch.clamp(1.0 - z * z, min=0.0))
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=-1).to(dtype=dtype, device=device)


def _as_tensor(x: torch.Tensor | np.ndarray, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    t = torch.as_tensor(np.asarray(x))
    if like is not None:
        return t.to(dtype=like.dtype, device=like.device)
    return t if t.is_floating_point() else t.double()


def sh_basis(directions: torch.Tensor | np.ndarray, lmax: int) -> torch.Tensor:
    """Real even-order SH basis (MRtrix3 / DIPY ``tournier07``, ``legacy=False``) at given directions.

    Computed with polynomials in (x, y, z) (no angles), so it is smooth at the poles and differentiable.

    Args:
        directions: (..., 3) direction vectors (normalised here), in the frame of the coefficients.
        lmax: maximum even degree.

    Returns:
        (..., n_coeffs(lmax)) basis values, same dtype and device as ``directions``.

    Example::

        >>> B = sh_basis(torch.tensor([[0.0, 0.0, 1.0]]), 6)   # (1, 28)
    """
    u = _as_tensor(directions)
    n_coeffs(lmax)  # validates lmax
    u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True).clamp_min(torch.finfo(u.dtype).tiny)
    x, y, z = u.unbind(-1)
    # (x + i y)^m = sin^m(theta) e^{i m phi}: its real/imaginary parts carry the azimuthal factor.
    cos_m, sin_m = [torch.ones_like(x)], [torch.zeros_like(x)]
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(x * c - y * s)
        sin_m.append(x * s + y * c)
    # q[l][m] = P_l^m(z) / sin^m(theta), with the Condon-Shortley phase, by the standard recurrences.
    q: dict[tuple[int, int], torch.Tensor] = {}
    for m in range(lmax + 1):
        q[(m, m)] = torch.full_like(z, (-1) ** m * float(np.prod(np.arange(1, 2 * m, 2))) if m else 1.0)
        if m + 1 <= lmax:
            q[(m + 1, m)] = (2 * m + 1) * z * q[(m, m)]
        for l in range(m + 2, lmax + 1):
            q[(l, m)] = ((2 * l - 1) * z * q[(l - 1, m)] - (l + m - 1) * q[(l - 2, m)]) / (l - m)
    columns = []
    for l in range(0, lmax + 1, 2):
        for m in range(-l, l + 1):
            am = abs(m)
            norm = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - am) / math.factorial(l + am))
            if m == 0:
                columns.append(norm * q[(l, 0)])
            elif m > 0:
                columns.append(math.sqrt(2.0) * norm * q[(l, am)] * cos_m[am])
            else:
                columns.append(math.sqrt(2.0) * norm * q[(l, am)] * sin_m[am])
    return torch.stack(columns, dim=-1)


def sh_to_amplitudes(coeffs: torch.Tensor | np.ndarray, directions: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Evaluate SH functions at directions.

    Args:
        coeffs: (..., N) coefficients, N an even-order SH count.
        directions: (K, 3) directions in the coefficients' frame.

    Returns:
        (..., K) amplitudes ``f(u_k)``.
    """
    c = _as_tensor(coeffs)
    lmax = lmax_from_n_coeffs(c.shape[-1])
    basis = sh_basis(_as_tensor(directions, like=c), lmax)
    return c @ basis.T


def amplitudes_to_sh(
    amplitudes: torch.Tensor | np.ndarray, directions: torch.Tensor | np.ndarray, lmax: int
) -> torch.Tensor:
    """Least-squares SH fit of amplitudes sampled at directions (no regularisation).

    Args:
        amplitudes: (..., K) samples of a function on the sphere.
        directions: (K, 3) sample directions; K must be at least ``n_coeffs(lmax)`` and well spread.
        lmax: maximum even degree of the fit.

    Returns:
        (..., n_coeffs(lmax)) coefficients.
    """
    a = _as_tensor(amplitudes)
    basis = sh_basis(_as_tensor(directions, like=a), lmax)
    if basis.shape[0] < basis.shape[1]:
        raise ValueError(f"{basis.shape[0]} directions cannot determine {basis.shape[1]} SH coefficients (lmax {lmax}).")
    pinv = torch.linalg.pinv(basis.double()).to(a.dtype)
    return a @ pinv.T


@lru_cache(maxsize=None)
def _design(lmax: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Sampling directions U and, per band l, ``pinv(Y_l(U))`` in float64 on the CPU."""
    directions = fibonacci_sphere(2 * (lmax + 1) ** 2 + 64)
    basis = sh_basis(directions, lmax)
    pinvs = tuple(torch.linalg.pinv(basis[:, sl]) for sl in band_slices(lmax))
    return directions, pinvs


def sh_rotation_matrix(rotation: torch.Tensor | np.ndarray, lmax: int) -> torch.Tensor:
    """Matrix that rotates (or reflects) even-order SH coefficients: ``c' = M(R) c``, ``f'(u) = f(R^T u)``.

    Exact for any orthogonal R (rotations and reflections); block diagonal with one orthogonal
    (2l + 1)-block per even l; ``M(R1 R2) = M(R1) M(R2)``. Differentiable with respect to R.

    Args:
        rotation: (..., 3, 3) orthogonal matrices, acting on column vectors of the coefficients' frame.
        lmax: maximum even degree.

    Returns:
        (..., N, N) with N = n_coeffs(lmax), same dtype and device as ``rotation``.

    Example::

        >>> R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about z
        >>> M = sh_rotation_matrix(R, 6)   # (28, 28)
    """
    r = _as_tensor(rotation)
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"rotation must have shape (..., 3, 3), got {tuple(r.shape)}.")
    directions, pinvs = _design(lmax)
    u = directions.to(dtype=r.dtype, device=r.device)
    # rows u^T R = (R^T u)^T: the basis evaluated at the back-rotated directions.
    rotated = sh_basis(u @ r, lmax)  # (..., K, N)
    n = n_coeffs(lmax)
    out = r.new_zeros(r.shape[:-2] + (n, n))
    for sl, pinv in zip(band_slices(lmax), pinvs):
        out[..., sl, sl] = pinv.to(dtype=r.dtype, device=r.device) @ rotated[..., sl]
    return out


def rotate_sh(coeffs: torch.Tensor, rotation: torch.Tensor | np.ndarray, channel_dim: int = -1) -> torch.Tensor:
    """Rotate SH coefficients of one or many voxels: ``f'(u) = f(R^T u)``.

    Args:
        coeffs: coefficients with the SH axis at ``channel_dim``.
        rotation: (3, 3) orthogonal matrix in the coefficients' frame.
        channel_dim: the SH axis of ``coeffs``.

    Returns:
        rotated coefficients, same shape, dtype and device.
    """
    lmax = lmax_from_n_coeffs(coeffs.shape[channel_dim])
    m = sh_rotation_matrix(_as_tensor(rotation, like=coeffs), lmax)
    moved = coeffs.movedim(channel_dim, -1)
    return (moved @ m.T).movedim(-1, channel_dim)


def angular_correlation(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, channel_dim: int = -1) -> torch.Tensor:
    """Angular correlation coefficient of two SH functions, ignoring l = 0 (Anderson, MRM 2005).

    ``ACC = sum_{l>0} a_lm b_lm / sqrt(sum_{l>0} a_lm^2 * sum_{l>0} b_lm^2)``, in [-1, 1]; NaN where
    either function has no l > 0 content. Both must have the same number of coefficients.
    """
    a_t, b_t = _as_tensor(a), _as_tensor(b)
    a_t = a_t.movedim(channel_dim, -1)[..., 1:]
    b_t = b_t.movedim(channel_dim, -1)[..., 1:].to(a_t.dtype)
    num = (a_t * b_t).sum(-1)
    den = torch.sqrt((a_t * a_t).sum(-1) * (b_t * b_t).sum(-1))
    return torch.where(den > 0, num / den.clamp_min(torch.finfo(a_t.dtype).tiny), torch.full_like(num, float("nan")))
