"""Simulate multi-shell DWI from FODs and tissue fractions with MRtrix3-style response functions.

Response files (MRtrix3 format, e.g. ``dwi2response dhollander`` output) hold, per shell (one row), the zonal
SH coefficients R_l(b) (l = 0, 2, 4, ...) of the signal of a single fibre along z, in MRtrix3's orthonormal
basis. The signal of an FOD f is the spherical convolution, per shell::

    S_lm(b) = sqrt(4 pi / (2l + 1)) * R_l(b) * f_lm

(MRtrix3's ``Math::SH::sconv``). A unit volume fraction of a tissue has l = 0 coefficient 1 / sqrt(4 pi) (so a
single-fibre WM voxel's FOD integrates to 1), hence an isotropic tissue of volume fraction v gives
``S(b) = R_0(b) * v / sqrt(4 pi)`` in every direction. Directions are world-frame. This convention reproduces
MRtrix3's own msmt_csd fit of the real test data (``tests/data/test_phantom.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from monai_fodgan.sh import fibonacci_sphere, lmax_from_n_coeffs, sh_basis, sh_degrees

__all__ = ["Responses", "simulate_dwi", "gradient_scheme", "add_rician_noise", "REAL_RESPONSE_SHELLS"]

#: b-values (s/mm^2) of the rows of the real responses in ../shared/data/mrtrix_test_data/msmt_*.txt.
REAL_RESPONSE_SHELLS = (0.0, 700.0, 1200.0, 2800.0)


@dataclass(frozen=True)
class Responses:
    """WM, GM and CSF responses: one row per shell (``bvals``), zonal coefficients per column."""

    bvals: tuple[float, ...]
    wm: np.ndarray
    gm: np.ndarray
    csf: np.ndarray

    @classmethod
    def from_files(cls, wm: str | Path, gm: str | Path, csf: str | Path, bvals: Sequence[float]) -> Responses:
        """Read MRtrix3 response text files; ``bvals`` names their shells (response files do not store them)."""
        arrays = [np.loadtxt(p, ndmin=2, comments="#") for p in (wm, gm, csf)]
        for p, a in zip((wm, gm, csf), arrays):
            if a.shape[0] != len(bvals):
                raise ValueError(f"{p}: {a.shape[0]} shells (rows), but {len(bvals)} b-values given.")
        return cls(tuple(float(b) for b in bvals), *arrays)

    @classmethod
    def default(cls) -> Responses:
        """Real multi-tissue responses of an adult human brain (MRtrix3's test data, dhollander, shells
        0/700/1200/2800), bundled here as numbers so that no data file is needed."""
        wm = np.array([[4128.5, 0, 0, 0, 0], [2533.16, -656.026, 70.4758, 0, 0],
                       [1978.87, -732.453, 151.103, -25.3671, 0], [1269.26, -602.593, 252.278, -73.2239, 13.4862]])
        gm = np.array([[7349.07], [3690.48], [2548.47], [995.55]])
        csf = np.array([[21958.8], [3443.98], [1316.77], [440.926]])
        return cls(REAL_RESPONSE_SHELLS, wm, gm, csf)


def gradient_scheme(directions_per_shell: Sequence[int] = (16, 30, 50), n_b0: int = 4,
                    bvals: Sequence[float] = REAL_RESPONSE_SHELLS[1:], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A multi-shell scheme: ``n_b0`` b = 0 volumes then, per shell, well-spread directions (each shell a
    randomly rotated hemisphere Fibonacci set). Returns (bvals (N,), world-frame unit bvecs (N, 3))."""
    rng = np.random.default_rng(seed)
    vals, vecs = [np.zeros(n_b0)], [np.zeros((n_b0, 3))]
    for b, n in zip(bvals, directions_per_shell):
        d = fibonacci_sphere(2 * n).numpy()
        d = d[d[:, 2] > 0][:n]
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        vals.append(np.full(len(d), float(b)))
        vecs.append(d @ q.T)
    return np.concatenate(vals), np.concatenate(vecs)


def simulate_dwi(wm_fod: np.ndarray, gm: np.ndarray, csf: np.ndarray, bvals: np.ndarray, bvecs: np.ndarray,
                 responses: Responses) -> np.ndarray:
    """Noise-free DWI (X, Y, Z, N) from a WM FOD (X, Y, Z, C) and GM/CSF volume-fraction maps (X, Y, Z).

    Each volume's b-value must match a response shell within 50 s/mm^2. (MRtrix3's msmt_csd GM/CSF outputs
    are ``fraction / sqrt(4 pi)``.)
    """
    lmax = lmax_from_n_coeffs(wm_fod.shape[-1])
    ls, _ = sh_degrees(lmax)
    out = np.zeros(wm_fod.shape[:3] + (len(bvals),), dtype=np.float32)
    for row, b in enumerate(responses.bvals):
        idx = np.flatnonzero(np.abs(bvals - b) < 50)
        if idx.size == 0:
            continue
        dirs = bvecs[idx] if b > 0 else np.tile([0.0, 0.0, 1.0], (len(idx), 1))
        basis = sh_basis(torch.from_numpy(np.asarray(dirs, dtype=np.float64)), lmax).numpy()
        r = responses.wm[row]
        kernel = np.array([r[l // 2] * np.sqrt(4 * np.pi / (2 * l + 1)) if l // 2 < len(r) else 0.0 for l in ls])
        signal = wm_fod @ (basis * kernel).T
        iso = (responses.gm[row, 0] * gm + responses.csf[row, 0] * csf) / np.sqrt(4 * np.pi)
        out[..., idx] = signal + iso[..., None]
    missing = ~np.isin(np.arange(len(bvals)), np.flatnonzero(np.min(np.abs(bvals[:, None] - np.asarray(responses.bvals)[None]), 1) < 50))
    if missing.any():
        raise ValueError(f"b-values {sorted(set(bvals[missing].tolist()))} have no response shell ({responses.bvals}).")
    return out


def add_rician_noise(dwi: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Rician noise: magnitude of the signal plus complex Gaussian noise of standard deviation ``sigma``."""
    real = dwi + rng.normal(0.0, sigma, dwi.shape)
    imag = rng.normal(0.0, sigma, dwi.shape)
    return np.sqrt(real**2 + imag**2).astype(np.float32)
