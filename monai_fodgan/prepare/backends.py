"""DWI -> FOD with MRtrix3 (multi-shell multi-tissue CSD) or DIPY (single-shell CSD), lmax 6 by default.

Both return the white-matter FOD in MRtrix3's SH basis and the WORLD frame, as a (X, Y, Z, N) array on the
DWI's grid, plus a record of what was run (backend, versions, parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.io import save_nifti
from monai_fodgan.mrtrix import mrtrix_available, mrtrix_version, run_mrtrix
from monai_fodgan.prepare.dwi import DWIError, DWIInput, LoadedDWI
from monai_fodgan.sh import amplitudes_to_sh, fibonacci_sphere, n_coeffs

__all__ = ["FODResult", "fod_mrtrix", "fod_dipy", "fod_dipy_msmt", "choose_backend", "BACKENDS"]


@dataclass
class FODResult:
    """A computed FOD (X, Y, Z, N) on the DWI grid, its brain mask and provenance."""

    fod: np.ndarray
    mask: np.ndarray
    affine: np.ndarray
    record: dict = field(default_factory=dict)


def choose_backend(requested: str | None) -> str:
    """``requested`` if given, else "mrtrix" when MRtrix3 is installed, else "dipy"."""
    if requested in (None, "auto"):
        return "mrtrix" if mrtrix_available("dwi2fod") else "dipy"
    if requested not in BACKENDS:
        raise ValueError(f"unknown backend {requested!r}; choose from {sorted(BACKENDS)}.")
    if requested == "mrtrix" and not mrtrix_available("dwi2fod"):
        raise ValueError("backend 'mrtrix' asked for but MRtrix3 is not installed (apt-get install mrtrix3).")
    return requested


def _same_grid(a: np.ndarray, b: np.ndarray, shape: Sequence[int], tolerance_voxels: float = 0.01) -> float | None:
    """None when the voxel grids of affines ``a`` and ``b`` (same ``shape``) put every voxel at the same place,
    within ``tolerance_voxels`` of the smallest voxel; else the largest distance in mm (at the grid's corners)."""
    corners = np.array([[x, y, z, 1.0] for x in (0, shape[0] - 1) for y in (0, shape[1] - 1) for z in (0, shape[2] - 1)])
    distance = float(np.linalg.norm(corners @ (np.asarray(a) - np.asarray(b))[:3].T, axis=1).max())
    voxel = float(np.linalg.norm(np.asarray(b)[:3, :3], axis=0).min())
    return None if distance <= tolerance_voxels * voxel else distance


def _load_mask(path: Path, shape: Sequence[int], subject: str, workdir: Path, affine: np.ndarray | None = None) -> np.ndarray:
    """A user's brain mask (NIfTI or .mif) as a boolean array on the DWI grid: same shape AND same geometry (a mask
    of the right shape but flipped or shifted would silently select the wrong voxels)."""
    if not path.is_file():
        raise DWIError(f"subject {subject}: mask {path}: file not found.")
    source = path
    if path.suffix == ".mif":
        converted = workdir / "user_mask.nii"
        run_mrtrix("mrconvert", path, converted, "-force")
        path = converted
    try:
        image = nib.load(str(path))
        mask = np.asarray(image.dataobj) > 0
    except Exception as e:  # nibabel raises several types for unreadable files
        raise DWIError(f"subject {subject}: mask {source}: unreadable image ({type(e).__name__}: {e}).") from None
    if mask.shape[:3] != tuple(shape[:3]) or mask.ndim != 3 and not (mask.ndim == 4 and mask.shape[3] == 1):
        raise DWIError(f"subject {subject}: mask {source} has shape {mask.shape}, the DWI {tuple(shape[:3])}.")
    if affine is not None:
        distance = _same_grid(image.affine, affine, mask.shape[:3])
        if distance is not None:
            raise DWIError(f"subject {subject}: mask {source} has the DWI's shape but another position or orientation "
                           f"(its voxels lie up to {distance:.2f} mm from the DWI's; affine "
                           f"{np.round(image.affine, 3).tolist()} vs {np.round(affine, 3).tolist()}).")
    return mask.reshape(mask.shape[:3])


def _brain_mask(item: DWIInput, dwi: LoadedDWI, workdir: Path) -> np.ndarray:
    """The user's mask, or DIPY's ``median_otsu`` of the mean b = 0 image."""
    if item.mask is not None:
        return _load_mask(Path(item.mask), dwi.data.shape, item.subject, workdir, dwi.affine)
    from dipy.segment.mask import median_otsu

    _, mask = median_otsu(dwi.data[..., dwi.gradients.b0_mask].mean(-1), median_radius=2, numpass=1)
    return mask


def fod_mrtrix(item: DWIInput, dwi: LoadedDWI, workdir: Path, lmax: int = 6,
               responses: Sequence[Path] | None = None, nthreads: int | None = None) -> FODResult:
    """MRtrix3: ``dwi2mask`` (when no mask), ``dwi2response dhollander`` (when no responses), ``dwi2fod msmt_csd``.

    Multi-shell data uses WM, GM and CSF; single-shell data WM and CSF (GM is not separable with one shell).

    Args:
        item: the subject's inputs (its ``mask`` is used when given).
        dwi: the loaded DWI (``dwi.nifti`` with FSL gradients is what MRtrix3 reads).
        workdir: scratch folder.
        lmax: WM FOD order (GM and CSF are isotropic, lmax 0).
        responses: (wm, gm, csf) response files to use instead of estimating them.
        nthreads: MRtrix3 threads.
    """
    grad = ("-fslgrad", dwi.bvec, dwi.bval)
    if item.mask is not None:
        mask_path = workdir / "mask.nii"
        save_nifti(_load_mask(Path(item.mask), dwi.data.shape, item.subject, workdir, dwi.affine), dwi.affine, mask_path,
                   dtype=np.uint8)
    else:
        mask_path = workdir / "mask.nii"
        run_mrtrix("dwi2mask", dwi.nifti, mask_path, *grad, "-force", nthreads=nthreads)
    multi_shell = len(dwi.gradients.shells()) > 1
    if responses is None:
        wm, gm, csf = (workdir / f"{t}_response.txt" for t in ("wm", "gm", "csf"))
        run_mrtrix("dwi2response", "dhollander", dwi.nifti, wm, gm, csf, *grad, "-mask", mask_path, "-force", nthreads=nthreads)
    else:
        wm, gm, csf = (Path(r) for r in responses)
    tissues = [(wm, workdir / "wm_fod.nii")]
    if multi_shell:
        tissues.append((gm, workdir / "gm.nii"))
    tissues.append((csf, workdir / "csf.nii"))
    lmaxes = ",".join([str(lmax)] + ["0"] * (len(tissues) - 1))
    pairs = [str(p) for pair in tissues for p in pair]
    run_mrtrix("dwi2fod", "msmt_csd", dwi.nifti, *pairs, *grad, "-mask", mask_path, "-lmax", lmaxes, "-force", nthreads=nthreads)
    image = nib.load(str(tissues[0][1]))
    fod = np.asarray(image.dataobj, dtype=np.float32)
    mask = np.asarray(nib.load(str(mask_path)).dataobj) > 0
    record = {"backend": "mrtrix", "mrtrix_version": mrtrix_version(), "algorithm": "msmt_csd",
              "tissues": ["wm", "gm", "csf"] if multi_shell else ["wm", "csf"], "lmax": lmax,
              "responses": "given" if responses is not None else "dhollander"}
    return FODResult(fod=fod, mask=mask, affine=np.asarray(image.affine), record=record)


def _pick_shell(dwi: LoadedDWI, lmax: int) -> float:
    """The shell for single-shell CSD: enough directions for lmax, then the most directions, then the higher b."""
    shells = dwi.gradients.shells()
    if not shells:
        raise DWIError("no diffusion-weighted shell (all volumes have b <= 50).")
    enough = {b: idx for b, idx in shells.items() if len(idx) >= n_coeffs(lmax)}
    pool = enough or shells
    return max(pool, key=lambda b: (len(pool[b]), b))


def fod_dipy(item: DWIInput, dwi: LoadedDWI, workdir: Path, lmax: int = 6, fa_threshold: float = 0.5) -> FODResult:
    """DIPY: single-shell constrained spherical deconvolution (Tournier et al. 2007) on one shell.

    The gradient table is given to DIPY in the WORLD frame, so DIPY's fit is a function in world
    coordinates; it is sampled on 300 directions and refitted in MRtrix3's basis (exact: both bases span the
    same lmax space), which sidesteps DIPY's legacy basis conventions. The response comes from the voxels
    with FA above ``fa_threshold`` (the 300 most anisotropic, at least 10) inside the brain mask; the mask is
    ``median_otsu`` of the mean b = 0 image unless given.
    """
    import dipy
    from dipy.core.gradients import gradient_table
    from dipy.core.sphere import Sphere
    from dipy.reconst.csdeconv import ConstrainedSphericalDeconvModel, response_from_mask_ssst
    from dipy.reconst.dti import TensorModel

    shell = _pick_shell(dwi, lmax)
    grads = dwi.gradients
    keep = grads.b0_mask.copy()
    keep[dwi.gradients.shells()[shell]] = True
    data = dwi.data[..., keep]
    gtab = gradient_table(grads.bvals[keep], bvecs=grads.bvecs[keep], b0_threshold=grads.b0_threshold)
    mask = _brain_mask(item, dwi, workdir)
    if mask.sum() < 10:
        raise DWIError(f"subject {item.subject}: brain mask has {int(mask.sum())} voxels.")
    fa = TensorModel(gtab).fit(data, mask=mask).fa
    fa = np.where(mask & np.isfinite(fa), fa, 0)
    order = np.argsort(fa.ravel())[::-1]
    n_sel = max(10, min(300, int((fa > fa_threshold).sum())))
    response_mask = np.zeros(fa.size, dtype=bool)
    response_mask[order[:n_sel]] = True
    response, _ = response_from_mask_ssst(gtab, data, response_mask.reshape(fa.shape))
    model = ConstrainedSphericalDeconvModel(gtab, response, sh_order_max=lmax)
    directions = fibonacci_sphere(300).numpy()
    fit = model.fit(data, mask=mask)
    amplitudes = fit.odf(Sphere(xyz=directions))  # (X, Y, Z, 300), world-frame directions
    fod = amplitudes_to_sh(amplitudes, directions, lmax).numpy().astype(np.float32)
    fod[~mask] = 0
    record = {"backend": "dipy", "dipy_version": dipy.__version__, "algorithm": "csd (single shell)",
              "shell_b": round(shell, 1), "n_directions": int(len(grads.shells()[shell])), "lmax": lmax,
              "response_eigenvalues": [float(v) for v in response[0]], "response_voxels": n_sel}
    return FODResult(fod=fod, mask=mask, affine=dwi.affine, record=record)


def fod_dipy_msmt(item: DWIInput, dwi: LoadedDWI, workdir: Path, lmax: int = 6) -> FODResult:
    """DIPY: multi-shell multi-tissue CSD (Jeurissen et al. 2014, ``dipy.reconst.mcsd``); needs cvxpy.

    Gradients in the WORLD frame as in :func:`fod_dipy`. Tissue responses from DIPY's FA/MD masks
    (``mask_for_response_msmt``) over the whole brain mask; the WM FOD is resampled into MRtrix3's basis.
    Slower than single-shell CSD (one quadratic programme per voxel).
    """
    import dipy
    from dipy.core.gradients import gradient_table, unique_bvals_tolerance
    from dipy.core.sphere import Sphere
    from dipy.reconst import mcsd

    if not mcsd.have_cvxpy:
        raise DWIError(f"subject {item.subject}: DIPY multi-shell CSD needs cvxpy (pip install cvxpy).")
    grads = dwi.gradients
    if len(grads.shells()) < 2:
        raise DWIError(f"subject {item.subject}: multi-shell CSD needs at least two b > 0 shells, found {len(grads.shells())}.")
    gtab = gradient_table(grads.bvals, bvecs=grads.bvecs, b0_threshold=grads.b0_threshold)
    mask = _brain_mask(item, dwi, workdir)
    radii = tuple(int(s) for s in np.ceil(np.asarray(dwi.data.shape[:3]) / 2))
    tissue_masks = mcsd.mask_for_response_msmt(gtab, dwi.data, roi_radii=radii, wm_fa_thr=0.5)
    tissue_masks = [m * mask for m in tissue_masks]
    empty = [t for t, m in zip(("WM", "GM", "CSF"), tissue_masks) if m.sum() == 0]
    if empty:
        raise DWIError(f"subject {item.subject}: no voxels to estimate the {', '.join(empty)} response(s) from.")
    wm_rf, gm_rf, csf_rf = mcsd.response_from_mask_msmt(gtab, dwi.data, *tissue_masks)
    response = mcsd.multi_shell_fiber_response(lmax, unique_bvals_tolerance(gtab.bvals), wm_rf, gm_rf, csf_rf)
    fit = mcsd.MultiShellDeconvModel(gtab, response, sh_order_max=lmax).fit(dwi.data, mask=mask)
    directions = fibonacci_sphere(300).numpy()
    fod = amplitudes_to_sh(fit.odf(Sphere(xyz=directions)), directions, lmax).numpy().astype(np.float32)
    fod[~mask] = 0
    record = {"backend": "dipy", "dipy_version": dipy.__version__, "algorithm": "msmt csd (multi shell)", "lmax": lmax,
              "response_voxels": [int(m.sum()) for m in tissue_masks]}
    return FODResult(fod=fod, mask=mask, affine=dwi.affine, record=record)


BACKENDS = {"mrtrix": fod_mrtrix, "dipy": fod_dipy, "dipy-msmt": fod_dipy_msmt}
