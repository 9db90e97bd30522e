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
run leaves no half-written output. One run at a time holds the folder (:class:`~monai_fodgan.locking.OutputLock`);
its temporary files live in ``.work/``, removed at the end and, after a killed run, at the next start.

Adding subjects to an existing dataset (a run whose subjects are not all in ``datalist.json``) is incremental:
the subjects already there keep their files and their training/validation assignment; the new ones are split
so that the validation share approaches ``n_val``; with ``crop="cohort"`` the new subjects are resampled into the
dataset's existing crop box, and a subject whose brain reaches outside it fails with a message saying so, unless
``recrop`` re-crops every subject (from ``native/``) to the box holding them all. A subject that fails in a
re-run keeps its previous result. ``datalist.json``, ``sh_stats.json`` and ``summary.json`` always describe the
same subjects; the grid (``lmax``, ``shape``, ``crop``) must match the existing dataset's.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.errors import subject_failure
from monai_fodgan.executors import LostSubjectError, check_parallelism, run_subjects, threads_per_subject
from monai_fodgan.io import file_digest, load_fod, save_json, save_nifti
from monai_fodgan.locking import OutputLock
from monai_fodgan.prepare.backends import BACKENDS, FODResult, choose_backend
from monai_fodgan.prepare.dwi import DWIInput, load_dwi
from monai_fodgan.prepare.options import CROPS, RESAMPLING_WARN_FACTOR
from monai_fodgan.prepare.standardise import isotropic_box, resample_fod_to_box, union_box, world_bounding_box
from monai_fodgan.safe_paths import UnsafePathError, check_subject_id, path_under
from monai_fodgan.sh import n_coeffs
from monai_fodgan.transforms.normalize import SHNormalization
from monai_fodgan.workspace import WORK_NAME, work_area

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
        jobs: subjects processed in parallel on this machine.
        scheduler: address of a Dask scheduler (``tcp://host:port``) whose workers process the subjects instead
            (they must see ``out`` and the inputs at the same paths); None: this machine, ``jobs`` at once.
        responses: (wm, gm, csf) response files for the MRtrix3 backend instead of estimating them.
        stats_quantile: quantile of |coefficient| mapped to 1 by the normalisation statistics.
        recrop: when adding subjects to an existing "cohort"-cropped dataset whose crop box does not hold them,
            re-crop every subject to the union box instead of failing the new ones.
        isotropic: widen the crop box (cohort or subject) about its centre so that ``shape`` gets isotropic voxels
            (:func:`~.standardise.isotropic_box`); otherwise each axis gets its own spacing, as the paper's grid.
        wait: when another run holds ``out``, wait for it instead of refusing.
    """

    out: Path
    backend: str = "auto"
    lmax: int = 6
    shape: tuple[int, int, int] = (128, 128, 64)
    crop: str = "cohort"
    n_val: float = 0.1
    seed: int = 0
    jobs: int = 1
    scheduler: str | None = None
    responses: tuple[Path, ...] | None = None
    stats_quantile: float = 1.0
    recrop: bool = False
    isotropic: bool = False
    wait: bool = False

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {self.crop!r}.")
        n_coeffs(self.lmax)
        check_parallelism(self.jobs, self.scheduler)


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



def _native_fod(item: DWIInput, backend: str, cfg: PrepareConfig, nthreads: int | None) -> FODResult:
    """The subject's FOD on its own grid: computed from the DWI, or a given FOD image checked and truncated."""
    if item.fod is not None:
        img = load_fod(item.fod, lmax=cfg.lmax, truncate=True)
        fod = np.moveaxis(img.numpy(), 0, -1)
        return FODResult(fod=fod, mask=fod[..., 0] > 0, affine=img.affine.numpy(),
                         record={"backend": "given", "source": str(item.fod), "lmax": cfg.lmax})
    (cfg.out / WORK_NAME).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"prepare-{item.subject}-", dir=cfg.out / WORK_NAME) as tmp:
        work = Path(tmp)
        dwi = load_dwi(item, work)  # all checks happen here, before any fitting
        if backend == "mrtrix":
            return BACKENDS["mrtrix"](item, dwi, work, lmax=cfg.lmax, responses=cfg.responses, nthreads=nthreads)
        return BACKENDS[backend](item, dwi, work, lmax=cfg.lmax)


def _process_subject_in_worker(item: DWIInput, cfg: PrepareConfig, nthreads: int) -> dict:
    """:func:`_process_subject` in a forked worker, with torch on ONE thread first: a worker forked from a process
    whose torch has already run an OpenMP parallel region (e.g. one that just wrote a phantom population on the
    56 x 64 x 56 demo grid) hangs in its first parallel region otherwise (GNU OpenMP is not fork-safe), and one
    thread never enters one. MRtrix3 commands still get ``nthreads`` (their own processes); torch only resamples."""
    import torch

    torch.set_num_threads(1)
    return _process_subject(item, cfg, nthreads)


def _process_subject(item: DWIInput, cfg: PrepareConfig, nthreads: int | None) -> dict:
    """Stage 1 for one subject (runs in a worker process). Never raises: failures come back as a status."""
    start = time.perf_counter()
    try:
        sidecar = path_under(cfg.out, f"native/{check_subject_id(item.subject)}.json")
        native = path_under(cfg.out, f"native/{item.subject}_fod.nii.gz")
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
        save_json(record, sidecar)
        return record
    except Exception as e:  # one subject's failure must not stop the cohort
        return subject_failure(item.subject, e, round(time.perf_counter() - start, 2))


def _process_subject_task(task: tuple[DWIInput, PrepareConfig, int | None]) -> dict:
    """:func:`_process_subject` of one ``(item, cfg, nthreads)``; ``nthreads`` None: the worker's share of CPUs."""
    item, cfg, nthreads = task
    nthreads = threads_per_subject() if nthreads is None else nthreads
    import multiprocessing

    if multiprocessing.parent_process() is not None:  # a pool or Dask worker: see _process_subject_in_worker
        return _process_subject_in_worker(item, cfg, nthreads)
    return _process_subject(item, cfg, nthreads)


def _lost_subject(subject: str, error: LostSubjectError) -> dict:
    """The failure record of a subject whose worker died (or whose pool broke) before it returned."""
    return subject_failure(subject, error, 0.0)


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
    out = path_under(cfg.out, f"fod/{check_subject_id(record['subject'])}.nii.gz")
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
    if box is None and cfg.isotropic:
        subject_box = isotropic_box(subject_box, cfg.shape)
    fod, affine = resample_fod_to_box(img.as_tensor(), img.affine, subject_box, cfg.shape)
    record["resampling"] = _resampling_record(record["subject"], img.affine.numpy(), np.asarray(affine))
    save_nifti(fod, affine, out)
    return out


def _read_datalist(cfg: PrepareConfig, subjects: Sequence[str]) -> dict | None:
    """The existing dataset's ``datalist.json`` (None when there is none, or when this run re-prepares all of its
    subjects on another grid: a new dataset), checked against this run's grid.

    Raises:
        ValueError: malformed, or prepared with another lmax, shape or crop while some of its subjects are not in
            this run (the message names the file).
    """
    path = cfg.out / "datalist.json"
    if not path.is_file():
        return None
    try:
        datalist = json.loads(path.read_text())
        for key in ("training", "validation"):
            for entry in datalist.get(key, []):
                check_subject_id(entry["subject"], f"an entry of {key!r}")
                path_under(cfg.out, entry["image"])
    except UnsafePathError as e:
        raise ValueError(f"{path}: {e}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed datalist (line {e.lineno}, column {e.colno}: {e.msg}); fix it, or "
                         "remove it to prepare the folder anew.") from None
    except (AttributeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: malformed datalist (expected training/validation lists of entries with "
                         f"'subject' and 'image'; {type(e).__name__}: {e}).") from None
    wanted = {"lmax": cfg.lmax, "shape": list(cfg.shape), "crop": cfg.crop, "isotropic": cfg.isotropic}
    everyone = {e["subject"] for key in ("training", "validation") for e in datalist.get(key, [])} <= set(subjects)
    for key, value in wanted.items():
        if key in datalist and datalist[key] != value:
            if everyone:
                return None
            raise ValueError(f"{path}: the dataset was prepared with {key} {datalist[key]}, this run asks for {value}; "
                             "use the same settings to add subjects, or another --out.")
    return datalist


def _dataset_box(datalist: dict, cfg: PrepareConfig) -> np.ndarray | None:
    """The crop box of an existing "cohort" dataset: recorded in the datalist, else read from an image's grid."""
    if datalist.get("crop_box_mm") is not None:
        return np.asarray(datalist["crop_box_mm"], dtype=np.float64)
    for entry in datalist.get("training", []) + datalist.get("validation", []):
        path = cfg.out / entry["image"]
        if path.is_file():
            affine = nib.load(str(path)).affine
            spacing = np.diag(affine)[:3]
            low = affine[:3, 3] - spacing / 2
            return np.stack([low, low + spacing * np.asarray(cfg.shape)])
    return None


def _inside(box: np.ndarray, outer: np.ndarray, tol_mm: float = 1e-3) -> bool:
    return bool((box[0] >= outer[0] - tol_mm).all() and (box[1] <= outer[1] + tol_mm).all())


def _assign_split(previous: dict[str, str], subjects: Sequence[str], n_val: float, seed: int) -> tuple[list[str], list[str]]:
    """Training/validation split of ``subjects``: those in ``previous`` keep their set; the others are drawn (seeded)
    so that the validation count approaches ``n_val`` of the whole (a count, or a fraction if < 1)."""
    if not previous:
        return split_subjects(subjects, n_val, seed)
    old = [s for s in subjects if s in previous]
    new = [s for s in subjects if s not in previous]
    total = len(subjects)
    target = int(round(n_val * total)) if n_val < 1 else int(n_val)
    target = min(max(target, 0), max(total - 1, 0))
    val = [s for s in old if previous[s] == "validation"]
    train = [s for s in old if previous[s] == "training"]
    need = max(min(target - len(val), len(new) - (0 if train else 1)), 0)
    order = [str(s) for s in np.random.default_rng(seed).permutation(sorted(new))] if new else []
    return sorted(train + order[need:]), sorted(val + order[:need])


def prepare_cohort(items: Sequence[DWIInput], cfg: PrepareConfig, progress: bool = True) -> dict:
    """Prepare every subject, then standardise, split, compute statistics and write the summary.

    Holds ``cfg.out``'s lock for the whole run and adds to an existing dataset there (see the module notes).

    Returns:
        the summary (also written to ``summary.json``); ``summary["failed"]`` lists failed subjects with reasons.

    Raises:
        ValueError: duplicate or unsafe subject IDs, no subjects, or an existing ``datalist.json`` that is malformed
            or of another grid (before any work).
        monai_fodgan.locking.OutputLockedError: another run holds ``cfg.out`` (and ``cfg.wait`` is False).
        OSError: the output folder cannot be written (the message names the file).
    """
    names = [i.subject for i in items]
    for name in names:
        check_subject_id(name)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate subject IDs: {duplicates}")
    if not items:
        raise ValueError("no subjects to prepare.")
    if cfg.scheduler:  # Dask workers may start in another folder: every path absolute
        cfg = replace(cfg, out=Path(cfg.out).absolute(),
                      responses=tuple(Path(r).absolute() for r in cfg.responses) if cfg.responses else None)
        items = [replace(i, **{role: Path(getattr(i, role)).absolute() for role in ("dwi", "bval", "bvec", "mask", "fod")
                               if getattr(i, role) is not None}) for i in items]
    with OutputLock(cfg.out, wait=cfg.wait), work_area(cfg.out):
        return _prepare_locked(items, cfg, progress)


def _prepare_locked(items: Sequence[DWIInput], cfg: PrepareConfig, progress: bool) -> dict:
    existing = _read_datalist(cfg, [i.subject for i in items])
    previous = {e["subject"]: key for key in ("training", "validation") for e in (existing or {}).get(key, [])}
    start = time.perf_counter()
    jobs = max(1, min(cfg.jobs, len(items)))
    # on a Dask cluster each worker shares its own CPUs among the subjects it runs (nthreads None)
    nthreads = None if cfg.scheduler else threads_per_subject(jobs)
    tasks = [(item, cfg, nthreads) for item in items]
    found: dict[int, dict] = {}
    for k, record in run_subjects(_process_subject_task, tasks, [i.subject for i in items], jobs=jobs,
                                  scheduler=cfg.scheduler, lost=_lost_subject, label="prepare"):
        found[k] = record
        _report(record, len(found), len(items), progress)
    records = [found[k] for k in range(len(items))]  # the order of the input, however they finished
    ok = [r for r in records if r["status"] in ("done", "skipped")]
    failed = [r for r in records if r["status"] == "failed"]
    in_run = {r["subject"] for r in records}
    kept = [s for s in previous if s not in in_run]  # dataset subjects this run does not list: left as they are
    box = _dataset_box(existing, cfg) if cfg.crop == "cohort" and existing and kept else None
    if cfg.crop == "cohort" and ok:
        if box is None:
            box = union_box([np.asarray(r["brain_box_mm"]) for r in ok])
            box = isotropic_box(box, cfg.shape) if cfg.isotropic else box
        elif cfg.recrop:  # every subject to the box holding them all, from its native FOD
            again = [json.loads((cfg.out / "native" / f"{s}.json").read_text()) | {"status": "kept"} for s in kept]
            box = union_box([np.asarray(r["brain_box_mm"]) for r in ok + again])
            box = isotropic_box(box, cfg.shape) if cfg.isotropic else box
            ok = ok + again
        else:
            for r in ok:
                if not _inside(np.asarray(r["brain_box_mm"]), box):
                    r["status"], r["error"] = "failed", (
                        f"subject {r['subject']}: its brain box {np.round(r['brain_box_mm'], 1).tolist()} mm reaches "
                        f"outside the crop box {np.round(box, 1).tolist()} mm of the {len(previous)} subjects already in "
                        f"{cfg.out}; pass --recrop to re-crop every subject to a box holding them all, or prepare into "
                        "a new folder.")
                    failed.append(r)
            ok = [r for r in ok if r["status"] != "failed"]
    standardised: dict[str, Path] = {}
    for r in ok:
        try:
            standardised[r["subject"]] = _standardise(r, cfg, box)
        except Exception as e:
            r["status"], r["error"] = "failed", f"standardisation: {type(e).__name__}: {e}"
            failed.append(r)
    ok = [r for r in ok if r["status"] != "failed"]
    for s in previous:  # untouched subjects, and those failing now, keep their previous result
        standardised.setdefault(s, cfg.out / "fod" / f"{s}.nii.gz")
    train, val = _assign_split(previous, sorted(standardised), cfg.n_val, cfg.seed)
    if train:
        save_json({
            "description": "monai_fodgan training set: FODs in MRtrix3's SH basis, world frame, on the training grid",
            "lmax": cfg.lmax, "shape": list(cfg.shape), "crop": cfg.crop, "isotropic": cfg.isotropic, "seed": cfg.seed,
            "crop_box_mm": None if box is None else np.asarray(box).tolist(),
            "training": [{"image": os.path.relpath(standardised[s], cfg.out), "subject": s} for s in train],
            "validation": [{"image": os.path.relpath(standardised[s], cfg.out), "subject": s} for s in val],
        }, cfg.out / "datalist.json")
        stats = SHNormalization.from_images((load_fod(standardised[s]) for s in train), quantile=cfg.stats_quantile)
        stats.save(cfg.out / "sh_stats.json")
    else:  # no subject at all (a rebuild on another grid where every subject failed): no stale datalist either
        for stale in ("datalist.json", "sh_stats.json"):
            (cfg.out / stale).unlink(missing_ok=True)
    prepared_now = {r["subject"] for r in ok if r["status"] in ("done", "skipped")}
    summary = {
        "subjects": len(items), "done": sum(r["status"] == "done" for r in ok),
        "skipped": sum(r["status"] == "skipped" for r in ok), "failed": [
            {"subject": r["subject"], "error": r["error"]} for r in failed],
        "training": len(train), "validation": len(val),
        "dataset": {"training": train, "validation": val,
                    "kept_from_before": sorted(s for s in standardised if s in previous and s not in prepared_now),
                    "added": sorted(s for s in standardised if s not in previous),
                    "recropped": sorted(r["subject"] for r in ok if r["status"] == "kept"),
                    "crop_box_mm": None if box is None else np.asarray(box).tolist()},
        "seconds_per_subject": {r["subject"]: r.get("seconds") for r in records},
        "resampling": {r["subject"]: r["resampling"] for r in ok if "resampling" in r},
        "resampling_warnings": [r["resampling"]["warning"] for r in ok if "warning" in r.get("resampling", {})],
        "total_seconds": round(time.perf_counter() - start, 2),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
    }
    save_json(summary, cfg.out / "summary.json")
    return summary


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
