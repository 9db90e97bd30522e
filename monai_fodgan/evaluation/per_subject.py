"""Everything computed for ONE subject, step by step, each step cached (see :mod:`~.cache`).

Steps (cache names under ``subjects/<content digest>/``, so a file that appears twice, in two sets or under
another name, is analysed once):

1. ``fod``: per-coefficient value ranges (for common histogram bins) and the negative l = 0 fraction;
2. ``atlas``: AAL labels and tract regions on the subject's grid (registration or MNI), the registration quality,
   AFD statistics per AAL parcel, and on the phantom the label Dice against the known AAL;
3. ``tracking_<backend>``: the isotropic tracking image, whole-brain tractography -> connectome (116 x 116, not
   normalised), and for every algorithm and tract: streamline count, 1 mm mask, volume, along-tract AFD, a few
   streamlines for figures, and on the phantom the Dice against the ground-truth bundle.

:func:`analyse_subject` runs the steps a subject still needs and returns the small results the set-level
comparison uses (label maps and regions stay in the cache; figures read them back from there).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.errors import subject_failure
from monai_fodgan.evaluation.atlas import region_names
from monai_fodgan.evaluation.cache import ResultCache, make_key
from monai_fodgan.evaluation.config import EvaluationConfig
from monai_fodgan.evaluation.fod_statistics import coefficient_range, negative_l0_fraction, parcel_sums
from monai_fodgan.evaluation.registration import atlas_in_mni, label_dice, load_template, register_atlas
from monai_fodgan.evaluation.subjects import EvalSubject, afd_map, load_fod_array
from monai_fodgan.evaluation.tractography import BACKENDS, TrackingSettings, TractRegions, make_tracking_image
from monai_fodgan.evaluation.tracts import MaskGrid, dice_indices, indices_on_grid, measure_tract, truth_masks
from monai_fodgan.executors import LostSubjectError, threads_per_subject
from monai_fodgan.workspace import WORK_NAME

__all__ = ["SubjectTask", "analyse_subject", "lost_subject", "task_identity", "N_NODES", "subject_cache_name", "tracking_settings"]

N_NODES = 116  # AAL regions


@dataclass(frozen=True)
class SubjectTask:
    """One subject to analyse, with what every step needs (picklable, for worker processes)."""

    subject: EvalSubject
    digest: str
    cfg: EvaluationConfig
    backends: tuple[str, ...]
    grid: MaskGrid
    template: str  # "mni-wm", or a NIfTI path (the phantom template is written to the cache first)
    template_id: str  # what identifies the template's contents in cache keys
    nthreads: int | None  # CPU threads of the non-tracking steps; None: the Dask worker's share of its CPUs


def tracking_settings(cfg: EvaluationConfig) -> TrackingSettings:
    """The tracking settings of an evaluation. One thread per tracking command: seeded MRtrix3 and DIPY tracking
    repeat exactly only single-threaded, so the results do not depend on ``jobs`` (parallelism is across subjects)."""
    return TrackingSettings(voxel_mm=cfg.voxel_mm, cutoff=cfg.cutoff, max_length_mm=cfg.max_length_mm, seed=cfg.seed,
                            nthreads=1, seeds_per_streamline=cfg.tract_seeds, step_voxels=cfg.step_voxels,
                            min_length_voxels=cfg.min_length_voxels)


def subject_cache_name(digest: str, step: str) -> str:
    return f"subjects/{digest[:32]}/{step}"


def task_identity(task: SubjectTask) -> tuple[str, str]:
    """Tasks with the same identity compute the same results (the pipeline runs each identity once)."""
    return task.digest, _truth_id(task)


def _truth_id(task: SubjectTask) -> str:
    """Ground truth is found by subject name: it enters the keys only when there is a truth folder."""
    # resolved: the same folder given relative (a README command) or absolute (the demo) reuses the same cache
    return f"{Path(task.cfg.truth).resolve()}:{task.subject.name}" if task.cfg.truth is not None else ""


def _atlas_key(task: SubjectTask) -> str:
    cfg = task.cfg
    return make_key("atlas-v1", task.digest, cfg.atlas, task.template_id, cfg.syn, cfg.tracts, _truth_id(task))


def _tracking_key(task: SubjectTask, backend: str) -> str:
    cfg = task.cfg
    # v2: tract profiles and densities by DIPY (tracts.py), which differ from v1 at the field of view's edge
    return make_key("tracking-v2", task.digest, _atlas_key(task), backend, cfg.algorithms, cfg.tracts, cfg.streamlines,
                    cfg.tract_streamlines, cfg.tract_seeds, cfg.voxel_mm, cfg.cutoff, cfg.max_length_mm, cfg.mask_threshold,
                    cfg.step_voxels, cfg.min_length_voxels,
                    cfg.profile_points, task.grid.shape, task.grid.affine.round(6).tolist(), cfg.seed, _truth_id(task))


def _fod_step(task: SubjectTask, cache: ResultCache, fod: np.ndarray) -> dict:
    name, key = subject_cache_name(task.digest, "fod"), make_key("fod-v1", task.digest)
    hit = cache.load(name, key)
    if hit is None:
        cache.save(name, key, {"ranges": coefficient_range(fod)}, {"negative_l0_fraction": negative_l0_fraction(fod)})
        hit = cache.load(name, key)
    return hit


def _truth_aal(root: Path, subject: str, shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray | None:
    """The phantom's known AAL labels of ``subject`` on the subject's grid (nearest neighbour), if there are any."""
    from monai_fodgan.evaluation.streamlines import sample_volume

    path = root / "derivatives" / "phantom" / subject / f"{subject}_aal.nii.gz"
    if not path.is_file():
        return None
    img = nib.load(str(path))
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).astype(np.float64)
    world = idx @ affine[:3, :3].T + affine[:3, 3]
    return sample_volume(np.asarray(img.dataobj, dtype=np.float32), np.asarray(img.affine), world, order=0).astype(np.int16)


def _atlas_step(task: SubjectTask, cache: ResultCache, fod: np.ndarray, affine: np.ndarray) -> dict:
    cfg = task.cfg
    name, key = subject_cache_name(task.digest, "atlas"), _atlas_key(task)
    hit = cache.load(name, key)
    if hit is not None:
        return hit
    start = time.perf_counter()
    afd = afd_map(fod)
    template = load_template(task.template)
    if cfg.atlas == "mni":
        atlas = atlas_in_mni(cfg.tracts, fod.shape[:3], affine, afd, template)
    else:
        atlas = register_atlas(afd, affine, cfg.tracts, template, syn=cfg.syn)
    meta = {"method": atlas.method, "quality": atlas.quality, "template": str(cfg.template),
            "seconds": round(time.perf_counter() - start, 2)}
    if cfg.truth is not None:
        known = _truth_aal(cfg.truth, task.subject.name, fod.shape[:3], affine)
        if known is not None:
            unregistered = atlas_in_mni(cfg.tracts, fod.shape[:3], affine)
            meta["truth"] = {"aal_dice": float(np.nanmean(label_dice(atlas.aal, known))),
                             "aal_dice_without_registration": float(np.nanmean(label_dice(unregistered.aal, known)))}
    cache.save(name, key, {"aal": atlas.aal, "regions": atlas.regions, "template": atlas.template.astype(np.float16),
                           "parcel_sums": parcel_sums(fod, atlas.aal, N_NODES)}, meta)
    return cache.load(name, key)


def _tract_regions(atlas: dict, tracts: tuple[str, ...], affine: np.ndarray) -> dict[str, TractRegions]:
    names = region_names(tracts)
    out = {}
    for tract in tracts:
        include = [atlas["regions"][i] > 0 for i, (t, role, _) in enumerate(names) if t == tract and role == "include"]
        exclude = [atlas["regions"][i] > 0 for i, (t, role, _) in enumerate(names) if t == tract and role == "exclude"]
        out[tract] = TractRegions(include, exclude, affine)
    return out


def _pack(arrays: list[np.ndarray], dtype: type, tail: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length arrays as (concatenation, offsets)."""
    offsets = np.cumsum([0] + [len(a) for a in arrays])
    data = np.concatenate(arrays).astype(dtype) if arrays and offsets[-1] else np.zeros((0, *tail), dtype=dtype)
    return data, offsets


def _tracking_step(task: SubjectTask, backend: str, cache: ResultCache, fod: np.ndarray, affine: np.ndarray,
                   atlas: dict) -> dict:
    cfg = task.cfg
    name, key = subject_cache_name(task.digest, f"tracking_{backend}"), _tracking_key(task, backend)
    hit = cache.load(name, key)
    if hit is not None:
        return hit
    start = time.perf_counter()
    settings = tracking_settings(cfg)
    (cfg.out / WORK_NAME).mkdir(parents=True, exist_ok=True)  # the output's work area, cleaned at the next start
    work = Path(tempfile.mkdtemp(prefix=f"{task.digest[:12]}-{backend}-", dir=cfg.out / WORK_NAME))
    try:
        image = make_tracking_image(fod, affine, settings, work)
        tracker = BACKENDS[backend](image, settings)
        connectome, info = tracker.connectome(atlas["aal"], affine, N_NODES, cfg.streamlines)
        info["seconds"] = round(time.perf_counter() - start, 2)
        afd = afd_map(fod)
        regions = _tract_regions(atlas, cfg.tracts, affine)
        truth = truth_masks(cfg.truth, task.subject.name, cfg.tracts) if cfg.truth is not None else None
        truth_idx = {t: indices_on_grid(v, truth[1], task.grid) for t, v in truth[0].items()} if truth else {}
        shape = (len(cfg.algorithms), len(cfg.tracts))
        counts, volumes, truth_dice = np.zeros(shape, dtype=np.int64), np.zeros(shape), np.full(shape, np.nan)
        profiles = np.full((*shape, cfg.profile_points), np.nan)
        masks, previews = [], []
        for a, algorithm in enumerate(cfg.algorithms):
            for t, tract in enumerate(cfg.tracts):
                seed_region = regions[tract].include[0]
                streamlines = tracker.tract(algorithm, regions[tract], cfg.tract_streamlines)  # [] when a region is empty
                centre = np.argwhere(seed_region).mean(0) if seed_region.any() else np.zeros(3)
                measures = measure_tract(streamlines, affine[:3, :3] @ centre + affine[:3, 3], afd, affine, task.grid,
                                         cfg.profile_points, cfg.mask_threshold)
                counts[a, t], volumes[a, t], profiles[a, t] = measures.count, measures.volume_mm3, measures.profile
                masks.append(measures.mask)
                previews.append(measures.preview)
                if tract in truth_idx:
                    truth_dice[a, t] = dice_indices(measures.mask, truth_idx[tract])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mask_data, mask_offsets = _pack(masks, np.int64)
    preview_data, preview_offsets = _pack(previews, np.float32, (20, 3))
    meta = {"connectome": info, "seconds": round(time.perf_counter() - start, 2),
            "tract_seconds": round(time.perf_counter() - start - info["seconds"], 2),
            "truth_volumes_mm3": {t: float(len(v) * task.grid.voxel_volume) for t, v in truth_idx.items()}}
    cache.save(name, key, {"connectome": connectome, "counts": counts, "volumes": volumes, "profiles": profiles,
                           "truth_dice": truth_dice, "mask_data": mask_data, "mask_offsets": mask_offsets,
                           "preview_data": preview_data, "preview_offsets": preview_offsets}, meta)
    return cache.load(name, key)


def analyse_subject(task: SubjectTask) -> dict:
    """Run (or reuse) every step for one subject.

    Returns:
        {"subject", "status" ("done" or "failed"), "error", "seconds", "fod", "atlas" (meta and parcel sums),
        "tracking" ({backend: result})}; a failure is returned, not raised, so other subjects go on.
    """
    import torch

    torch.set_num_threads(threads_per_subject() if task.nthreads is None else task.nthreads)
    cache = ResultCache(task.cfg.cache_dir)
    start = time.perf_counter()
    record: dict = {"subject": task.subject, "status": "done"}
    try:
        fod, affine = load_fod_array(task.subject.path)
        record["fod"] = _fod_step(task, cache, fod)
        atlas = _atlas_step(task, cache, fod, affine)
        record["atlas"] = {"meta": atlas["meta"], "parcel_sums": atlas["parcel_sums"]}
        record["tracking"] = {b: _tracking_step(task, b, cache, fod, affine, atlas) for b in task.backends}
    except Exception as err:  # reported per subject; the others still finish
        return subject_failure(f"{task.subject.group}/{task.subject.name}", err, round(time.perf_counter() - start, 2))
    record["seconds"] = round(time.perf_counter() - start, 2)
    return record


def lost_subject(name: str, error: LostSubjectError) -> dict:
    """The failure record of a subject whose worker died (or whose pool broke) before it returned."""
    return subject_failure(name, error, 0.0)
