"""Turn a cohort's DWIs (or ready FODs) into a training set: FODs, standard grid, split, statistics, summary.

Output folder layout::

    native/<subject>_fod.nii.gz   FOD on the subject's own grid (MRtrix3 basis, world frame)
    native/<subject>.json         provenance: backend, versions, parameters, input hash, brain box, seconds
    fod/<subject>.nii.gz          FOD on the training grid (axis-aligned RAS, ``shape`` voxels)
    datalist.json                 MONAI datalist: {"training": [{"image": ...}], "validation": [...]}
    sh_stats.json                 normalisation statistics of the training subjects (SHNormalization)
    summary.json                  subjects done / skipped / failed (with the reason), seconds per subject

Re-running skips the FOD computation of a subject whose inputs and parameters hash to what its sidecar
recorded (not mere file existence). Every file is written to a temporary name and renamed, so an interrupted
run leaves no half-written output.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from monai_fodgan.io import atomic_output, file_digest, load_fod, save_nifti
from monai_fodgan.prepare.backends import BACKENDS, FODResult, choose_backend
from monai_fodgan.prepare.dwi import DWIInput, load_dwi
from monai_fodgan.prepare.options import CROPS, RESAMPLING_WARN_FACTOR
from monai_fodgan.prepare.standardise import resample_fod_to_box, union_box, world_bounding_box
from monai_fodgan.sh import n_coeffs
from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["PrepareConfig", "prepare_cohort", "split_subjects", "input_hash", "resampling_factors"]


@dataclass
class PrepareConfig:
    """Parameters of a preparation run (all recorded in the summary).

    Attributes:
        out: output folder.
        backend: "mrtrix", "dipy" (single-shell CSD), "dipy-msmt" (multi-shell CSD, needs cvxpy) or "auto"
            (MRtrix3 when installed, else "dipy").
        lmax: FOD order (paper: 6, 28 volumes).
        shape: training grid (paper: 128 x 128 x 64).
        crop: "cohort" (one brain bounding box for all subjects, as the paper), "subject" (each its own),
            or "hcp" (the paper's fixed HCP slice ranges; input must be on the 145 x 174 x 145 HCP grid).
        n_val: validation subjects, a count (>= 1) or a fraction (< 1). Paper: 100 of 1065.
        seed: seed of the split.
        jobs: subjects processed in parallel.
        responses: (wm, gm, csf) response files for the MRtrix3 backend instead of estimating them.
        stats_quantile: quantile of |coefficient| mapped to 1 by the normalisation statistics.
    """

    out: Path
    backend: str = "auto"
    lmax: int = 6
    shape: tuple[int, int, int] = (128, 128, 64)
    crop: str = "cohort"
    n_val: float = 0.1
    seed: int = 0
    jobs: int = 1
    responses: tuple[Path, ...] | None = None
    stats_quantile: float = 1.0

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {self.crop!r}.")
        n_coeffs(self.lmax)


def input_hash(item: DWIInput, backend: str, cfg: PrepareConfig) -> str:
    """Hash of a subject's input CONTENTS and the parameters that shape its native FOD."""
    h = hashlib.sha256()
    for role in ("dwi", "bval", "bvec", "mask", "fod"):
        path = getattr(item, role)
        h.update(f"{role}:{file_digest(Path(path)) if path else '-'};".encode())
    for r in cfg.responses or ():
        h.update(file_digest(Path(r)).encode())
    h.update(json.dumps({"backend": backend, "lmax": cfg.lmax}).encode())
    return h.hexdigest()


def _write_json(path: Path, obj: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")


def _native_fod(item: DWIInput, backend: str, cfg: PrepareConfig, nthreads: int | None) -> FODResult:
    """The subject's FOD on its own grid: computed from the DWI, or a given FOD image checked and truncated."""
    if item.fod is not None:
        img = load_fod(item.fod, lmax=cfg.lmax, truncate=True)
        fod = np.moveaxis(img.numpy(), 0, -1)
        return FODResult(fod=fod, mask=fod[..., 0] > 0, affine=img.affine.numpy(),
                         record={"backend": "given", "source": str(item.fod), "lmax": cfg.lmax})
    with tempfile.TemporaryDirectory(prefix=f"prepare-{item.subject}-") as tmp:
        work = Path(tmp)
        dwi = load_dwi(item, work)  # all checks happen here, before any fitting
        if backend == "mrtrix":
            return BACKENDS["mrtrix"](item, dwi, work, lmax=cfg.lmax, responses=cfg.responses, nthreads=nthreads)
        return BACKENDS[backend](item, dwi, work, lmax=cfg.lmax)


def _process_subject(item: DWIInput, cfg: PrepareConfig, nthreads: int | None) -> dict:
    """Stage 1 for one subject (runs in a worker process). Never raises: failures come back as a status."""
    start = time.perf_counter()
    native_dir = cfg.out / "native"
    sidecar = native_dir / f"{item.subject}.json"
    native = native_dir / f"{item.subject}_fod.nii.gz"
    try:
        item.check_files()
        backend = "given" if item.fod is not None else choose_backend(cfg.backend)
        digest = input_hash(item, backend, cfg)
        if sidecar.is_file() and native.is_file():
            previous = json.loads(sidecar.read_text())
            if previous.get("input_hash") == digest:
                return {**previous, "status": "skipped"}
        result = _native_fod(item, backend, cfg, nthreads)
        box = world_bounding_box(result.mask, result.affine)
        save_nifti(np.moveaxis(result.fod, -1, 0), result.affine, native)
        seconds = time.perf_counter() - start
        record = {"subject": item.subject, "status": "done", "input_hash": digest, "native_fod": str(native),
                  "inputs": {k: str(v) for k, v in asdict(item).items() if v is not None and k != "subject"},
                  "brain_box_mm": box.tolist(), "native_shape": list(result.fod.shape[:3]),
                  "seconds": round(seconds, 2), **result.record}
        _write_json(sidecar, record)
        return record
    except Exception as e:  # one subject's failure must not stop the cohort
        message = str(e) if item.subject in str(e) else f"subject {item.subject}: {e}"
        return {"subject": item.subject, "status": "failed", "error": f"{type(e).__name__}: {message}",
                "traceback": traceback.format_exc(limit=3), "seconds": round(time.perf_counter() - start, 2)}


def split_subjects(subjects: Sequence[str], n_val: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded training/validation split; ``n_val`` is a count (>= 1) or a fraction (< 1)."""
    order = list(np.random.default_rng(seed).permutation(sorted(subjects)))
    k = int(round(n_val * len(order))) if n_val < 1 else int(n_val)
    k = min(max(k, 0), max(len(order) - 1, 0))
    return sorted(order[k:]), sorted(order[:k])


def resampling_factors(native_affine: np.ndarray, grid_affine: np.ndarray) -> list[float]:
    """How much the training grid scales a subject's voxels, per axis of the grid: the grid's voxel size over the
    native voxel size along the same direction (the native axis closest to it; native grids may be oblique).
    2.0: twice as coarse (detail lost); 0.5: twice as fine (interpolated, nothing gained)."""
    native, grid = np.asarray(native_affine, float)[:3, :3], np.asarray(grid_affine, float)[:3, :3]
    native_size, grid_size = np.linalg.norm(native, axis=0), np.linalg.norm(grid, axis=0)
    alignment = np.abs((grid / grid_size).T @ (native / native_size))  # (grid axis, native axis) cosines
    return [round(float(grid_size[j] / native_size[np.argmax(alignment[j])]), 3) for j in range(3)]


def _resampling_record(subject: str, native_affine: np.ndarray, grid_affine: np.ndarray) -> dict:
    """Voxel sizes before and after, and a warning when any axis is scaled by more than RESAMPLING_WARN_FACTOR."""
    factors = resampling_factors(native_affine, grid_affine)
    record = {"native_voxel_mm": [round(float(v), 3) for v in np.linalg.norm(np.asarray(native_affine)[:3, :3], axis=0)],
              "grid_voxel_mm": [round(float(v), 3) for v in np.linalg.norm(np.asarray(grid_affine)[:3, :3], axis=0)],
              "factor": factors}
    worst = max(max(factors), 1.0 / min(factors))
    if worst > RESAMPLING_WARN_FACTOR:
        fmt = lambda values: " x ".join(f"{v:g}" for v in values)  # noqa: E731
        record["warning"] = (
            f"{subject}: the training grid resamples it by up to {worst:.1f}x ({fmt(record['native_voxel_mm'])} mm voxels "
            f"-> {fmt(record['grid_voxel_mm'])} mm); choose --shape to fit the data (or --crop) if that is not intended")
        print(f"warning: {record['warning']}", file=sys.stderr, flush=True)
    return record


def _standardise(record: dict, cfg: PrepareConfig, box: np.ndarray | None) -> Path:
    """Stage 2: the subject's native FOD on the training grid, written to fod/<subject>.nii.gz; how much that
    resampled it goes to ``record["resampling"]``."""
    img = load_fod(record["native_fod"])
    out = cfg.out / "fod" / f"{record['subject']}.nii.gz"
    if cfg.crop == "hcp":
        from monai_fodgan.transforms.presets import hcp_paper_crop

        if tuple(img.shape[1:]) != (145, 174, 145):
            raise ValueError(f"{record['native_fod']}: the HCP crop needs a 145 x 174 x 145 grid, got {tuple(img.shape[1:])}.")
        std = hcp_paper_crop("image")({"image": img})["image"]
        if tuple(cfg.shape) != tuple(std.shape[1:]):
            from monai_fodgan.transforms import ResampleToGrid

            std = ResampleToGrid(cfg.shape)(std)
        record["resampling"] = _resampling_record(record["subject"], img.affine.numpy(), np.asarray(std.affine))
        save_nifti(std, std.affine, out)
        return out
    subject_box = np.asarray(record["brain_box_mm"]) if box is None else box
    fod, affine = resample_fod_to_box(img.as_tensor(), img.affine, subject_box, cfg.shape)
    record["resampling"] = _resampling_record(record["subject"], img.affine.numpy(), np.asarray(affine))
    save_nifti(fod, affine, out)
    return out


def prepare_cohort(items: Sequence[DWIInput], cfg: PrepareConfig, progress: bool = True) -> dict:
    """Prepare every subject, then standardise, split, compute statistics and write the summary.

    Returns:
        the summary (also written to ``summary.json``); ``summary["failed"]`` lists failed subjects with reasons.
    """
    names = [i.subject for i in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate subject IDs: {duplicates}")
    if not items:
        raise ValueError("no subjects to prepare.")
    cfg.out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(cfg.out)
    start = time.perf_counter()
    jobs = max(1, min(cfg.jobs, len(items)))
    nthreads = max(1, (os.cpu_count() or 1) // jobs)
    records: list[dict] = []
    if jobs == 1:
        for item in items:
            records.append(_process_subject(item, cfg, nthreads))
            _report(records[-1], len(records), len(items), progress)
    else:
        # fork where the platform has it (as PyTorch's DataLoader): it does not re-run the caller's script,
        # so notebooks and scripts without a __main__ guard work; spawn elsewhere
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method)) as pool:
            futures = [pool.submit(_process_subject, item, cfg, nthreads) for item in items]
            for future in futures:
                records.append(future.result())
                _report(records[-1], len(records), len(items), progress)
    ok = [r for r in records if r["status"] in ("done", "skipped")]
    failed = [r for r in records if r["status"] == "failed"]
    standardised: dict[str, Path] = {}
    if ok:
        box = union_box([np.asarray(r["brain_box_mm"]) for r in ok]) if cfg.crop == "cohort" else None
        for r in ok:
            try:
                standardised[r["subject"]] = _standardise(r, cfg, box)
            except Exception as e:
                r["status"], r["error"] = "failed", f"standardisation: {type(e).__name__}: {e}"
                failed.append(r)
        ok = [r for r in ok if r["status"] != "failed"]
    train, val = split_subjects([r["subject"] for r in ok], cfg.n_val, cfg.seed)
    if train:
        _write_json(cfg.out / "datalist.json", {
            "description": "monai_fodgan training set: FODs in MRtrix3's SH basis, world frame, on the training grid",
            "lmax": cfg.lmax, "shape": list(cfg.shape), "crop": cfg.crop, "seed": cfg.seed,
            "training": [{"image": os.path.relpath(standardised[s], cfg.out), "subject": s} for s in train],
            "validation": [{"image": os.path.relpath(standardised[s], cfg.out), "subject": s} for s in val],
        })
        stats = SHNormalization.from_images((load_fod(standardised[s]) for s in train), quantile=cfg.stats_quantile)
        stats.save(cfg.out / "sh_stats.json")
    summary = {
        "subjects": len(items), "done": sum(r["status"] == "done" for r in ok),
        "skipped": sum(r["status"] == "skipped" for r in ok), "failed": [
            {"subject": r["subject"], "error": r["error"]} for r in failed],
        "training": len(train), "validation": len(val),
        "seconds_per_subject": {r["subject"]: r.get("seconds") for r in records},
        "resampling": {r["subject"]: r["resampling"] for r in ok if "resampling" in r},
        "resampling_warnings": [r["resampling"]["warning"] for r in ok if "warning" in r.get("resampling", {})],
        "total_seconds": round(time.perf_counter() - start, 2),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
    }
    _write_json(cfg.out / "summary.json", summary)
    return summary


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporaries that a killed run left behind (hidden ``.<name>-*`` files of ``atomic_output``).

    One prepare run per output folder at a time: a concurrent run's temporaries would be removed too."""
    for folder in (out, out / "native", out / "fod"):
        if folder.is_dir():
            for leftover in folder.glob(".*-*"):
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)


def _report(record: dict, k: int, n: int, progress: bool) -> None:
    if not progress:
        return
    status = record["status"]
    if status == "failed":
        detail = record["error"]
    else:
        source = "FOD given" if record.get("backend") == "given" else f"backend {record.get('backend', '?')}"
        detail = f"{source}, {record.get('seconds', '?')} s"
    print(f"[{k}/{n}] {record['subject']}: {status} ({detail})", flush=True)
