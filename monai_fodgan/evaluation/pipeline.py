"""The whole evaluation: inputs -> per-subject analyses -> set comparison -> figures, ``metrics.json``, report.

Output folder::

    metrics.json                          every number (JSON; NaN written as null)
    report.html                           one self-contained page: figures embedded, with short explanations
    figures/*.png                         the report's figures
    atlas/<set>/<subject>_aal.nii.gz      AAL labels on each subject's grid (what its connectome used)
    atlas/<set>/<subject>_tract_regions.nii.gz   the tract regions, one volume each (atlas/tract_regions.json)
    registration/<set>/<subject>.png      registration quality of each subject
    cache/                                intermediate results keyed by input contents and parameters

Inputs are checked before any work (missing files, non-FOD images, NaN or infinite values, truncated files, images on
different grids, MRtrix3 asked for but not installed): the error names the file. One run at a time holds the folder
(:class:`~monai_fodgan.locking.OutputLock`); temporary files live in ``.work/``, removed at the end and, after a
killed run, at the next start; worker processes die with the run. Tracking is single-threaded and seeded per
subject (parallelism is across subjects), so identical inputs and seed give identical numbers whatever ``jobs``. A subject whose analysis fails is reported and left out; the
others finish, and the run's ``failed`` list says why. A re-run reuses every cached result.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from monai_fodgan.evaluation import comparison as cmp
from monai_fodgan.evaluation import figures as fig
from monai_fodgan.evaluation.atlas import region_names
from monai_fodgan.evaluation.cache import ResultCache
from monai_fodgan.evaluation.config import EvaluationConfig, resolve_backends
from monai_fodgan.evaluation.distances import ImageSource, pairwise_squared_distances
from monai_fodgan.evaluation.fod_statistics import coefficient_histograms, histogram_edges, l0_maps, reference_brain_mask
from monai_fodgan.evaluation.generative import ms_ssim_settings, pairwise_ms_ssim
from monai_fodgan.evaluation.per_subject import SubjectTask, analyse_subject, lost_subject, subject_cache_name, task_identity
from monai_fodgan.evaluation.report import write_report
from monai_fodgan.evaluation.subjects import (EvalSubject, afd_map, check_common_grid, check_images, collect_subjects,
                                               load_fod_array)
from monai_fodgan.evaluation.tracts import mask_grid
from monai_fodgan.evaluation.verdict import verdict
from monai_fodgan.io import atomic_output, file_digest, save_nifti
from monai_fodgan.locking import OutputLock
from monai_fodgan.executors import run_subjects, threads_per_subject
from monai_fodgan.sh import lmax_from_n_coeffs
from monai_fodgan.visualize import coefficient_label, plot_coefficient_slices, plot_fod_slices
from monai_fodgan.workspace import work_area

__all__ = ["run_evaluation"]

GROUPS = ("synthetic", "reference")


def _progress(iterable: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)


def _clean(obj: object) -> object:
    """JSON-ready copy: numpy scalars/arrays to Python, NaN and infinities to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


@dataclass
class _Run:
    """What the sections of one evaluation share: inputs, per-subject records, the figures made so far."""

    cfg: EvaluationConfig
    cache: ResultCache
    sets: dict[str, list[EvalSubject]]
    digests: dict[str, str]
    records: dict[str, list[dict]]  # analysed subjects per group (synthetic, reference)
    shape: tuple[int, ...]
    affine: np.ndarray
    n_sh: int
    backends: list[str]
    log: Callable[[str], None]
    figures: list[dict] = field(default_factory=list)

    @property
    def subjects(self) -> dict[str, list[EvalSubject]]:
        return {g: [r["subject"] for r in recs] for g, recs in self.records.items()}

    def figure(self, name: str, title: str, caption: str, section: str) -> Path:
        """Register a figure of the report; returns the path to write it to."""
        path = self.cfg.out / "figures" / f"{name}.png"
        self.figures.append({"key": name, "path": path, "title": title, "caption": caption, "section": section})
        return path


def _resolve_template(cfg: EvaluationConfig, cache: ResultCache) -> tuple[str, str]:
    """(template to load in workers, its identity for cache keys); the phantom template is written once."""
    if cfg.template == "mni-wm":
        return "mni-wm", "mni-wm"
    if cfg.template == "phantom":
        from monai_fodgan.data.phantom import template_afd

        version = "phantom-v2"  # raised whenever the phantom changes: cached templates and atlases of older ones are not used
        path = cache.root / "templates" / f"{version}_afd.nii.gz"
        if not path.is_file():
            data, affine = template_afd(2.0)
            save_nifti(data, affine, path)
        return str(path), version
    return str(cfg.template), file_digest(cfg.template)


def _analyse_all(tasks: list[SubjectTask], jobs: int, scheduler: str | None, progress: bool) -> list[dict]:
    """One record per task, in order; tasks with the same identity (one file listed twice) run once, in this
    process, ``jobs`` local worker processes or on the Dask cluster at ``scheduler``."""
    unique: dict[tuple[str, str], SubjectTask] = {}
    for t in tasks:
        unique.setdefault(task_identity(t), t)
    todo = list(unique.values())
    names = [f"{t.subject.group}/{t.subject.name}" for t in todo]
    done: dict[tuple[str, str], dict] = {}
    finished = run_subjects(analyse_subject, todo, names, jobs=jobs, scheduler=scheduler, lost=lost_subject,
                            label="evaluate")
    for k, record in _progress(finished, len(todo), "subjects", progress):
        done[task_identity(todo[k])] = record
    return [done[task_identity(t)] | {"subject": t.subject} for t in tasks]


def _load_flat(path: Path) -> np.ndarray:
    return load_fod_array(path)[0].ravel()


def _atlas_arrays(run: _Run, subject: EvalSubject) -> dict:
    """A subject's cached atlas arrays (written by the analysis that just ran)."""
    with np.load(run.cache.path(subject_cache_name(run.digests[subject.key], "atlas")), allow_pickle=False) as data:
        return {k: data[k] for k in ("aal", "regions", "template")}


def _fod_section(run: _Run, d2: np.ndarray) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """Examples, coefficient maps, histograms, squared differences, negative l = 0, regional bias.

    Returns:
        (metrics, AFD maps per group for the generative metrics).
    """
    cfg, subjects = run.cfg, run.subjects
    ranges = np.stack([r["fod"]["ranges"] for g in GROUPS for r in run.records[g]])
    edges = histogram_edges(ranges, cfg.histogram_bins)
    counts = {g: np.zeros((run.n_sh, cfg.histogram_bins), dtype=np.int64) for g in GROUPS}
    afds: dict[str, list[np.ndarray]] = {g: [] for g in GROUPS}
    examples: list[tuple[str, np.ndarray]] = []
    ordered = [s for g in GROUPS for s in subjects[g]]
    voxel_mm = tuple(np.linalg.norm(run.affine[:3, :3], axis=0))  # the common grid's (checked)
    negative: dict[str, dict[str, np.ndarray]] = {g: {} for g in GROUPS}
    covered = np.zeros(run.shape[:3], dtype=np.int32)
    for s in _progress(ordered, len(ordered), "images", cfg.progress):  # one pass over the images
        fod, _ = load_fod_array(s.path)
        counts[s.group] += coefficient_histograms(fod, edges)
        negative[s.group][s.name], nonzero = l0_maps(fod)
        if s.group == "reference":
            covered += nonzero
        afds[s.group].append(afd_map(fod).astype(np.float32))
        if s in subjects["synthetic"][:3] or s is subjects["reference"][0]:
            examples.append((s.name, np.moveaxis(fod, -1, 0).copy()))
    plot_fod_slices([x for _, x in examples], [n for n, _ in examples], run.figure(
        "fod_examples", "Synthetic and reference FODs",
        "Middle slices in three planes: l = 0 map (grey) and the direction of the largest FOD peak (red left-right, "
        "green anterior-posterior, blue inferior-superior), as the paper's Fig. 1. The last row is a reference subject.", "fod"),
        voxel_size=voxel_mm)
    coefficients = [c for c in (0, 3, 10, 21, run.n_sh - 1) if c < run.n_sh]
    plot_coefficient_slices([x for _, x in examples], coefficients, run.figure(
        "coefficient_maps", "SH coefficient maps",
        f"{'; '.join(coefficient_label(c, lmax_from_n_coeffs(run.n_sh)) for c in coefficients)} (MRtrix3 order, counted "
        "from 1, as the panel titles) in three planes, as the paper's Fig. 2-3; "
        "the last row is a reference subject. Blurred or speckled maps show what the model missed.", "fod"),
        "SH coefficient maps, middle slices", voxel_size=voxel_mm, row_labels=[n for n, _ in examples])
    fig.plot_histograms(edges, counts, run.figure(
        "histograms", "Histograms of every SH coefficient",
        "Voxel values of every coefficient over all voxels of all subjects, log scale (paper Fig. 3B). Synthetic tails "
        "that reach beyond the reference range are implausible voxel values.", "fod"))
    squared = cmp.squared_difference_section(d2, len(subjects["synthetic"]))
    fig.plot_distributions([("sum of voxelwise squared differences per pair", {
        g: squared[g]["values"] for g in ("synthetic", "reference", "between")})], run.figure(
        "squared_differences", "Pairwise squared differences",
        "Sum over voxels and coefficients of (a - b)^2 for every pair within a set and between the sets. A narrower, "
        "lower synthetic distribution means synthetic subjects vary less than real ones (the paper: (18.4 +- 6.0) x "
        "10^3 synthetic against (28.1 +- 4.5) x 10^3 validation at 128 x 128 x 64).", "fod"))
    bias = cmp.regional_bias_section(run.records)
    fig.plot_regional_bias(bias["parcels"], bias["relative_difference_mean"], bias["relative_difference_sd"], run.figure(
        "regional_bias", "Regional bias per AAL parcel (Eq. 5)",
        "Relative differences |a - b| / (|a| + |b|) of the pooled AFD mean and standard deviation in every AAL parcel, "
        "synthetic against reference. The paper found up to 12 % / 45 % in the cerebellum and under 5 % / 20 % elsewhere.",
        "fod"))
    metrics = {"histograms": {"edges": edges, "counts": counts}, "squared_differences": squared,
               "negative_l0_fraction": cmp.negative_l0_section(negative, reference_brain_mask(covered, len(subjects["reference"]))),
               "regional_bias": bias}
    return metrics, afds


def _registration_section(run: _Run) -> dict:
    """Registration quality; every subject's warped atlas (NIfTI) and quality figure; three in the report."""
    metrics = cmp.registration_section(run.records)
    names = region_names(run.cfg.tracts)
    with atomic_output(run.cfg.out / "atlas" / "tract_regions.json") as tmp:
        tmp.write_text(json.dumps([{"volume": k, "tract": t, "role": role, "index": i}
                                   for k, (t, role, i) in enumerate(names)], indent=1) + "\n")
    shown = run.subjects["synthetic"][:2] + run.subjects["reference"][:1]
    for s in [s for g in GROUPS for s in run.subjects[g]]:
        atlas = _atlas_arrays(run, s)
        fod, affine = load_fod_array(s.path)
        save_nifti(atlas["aal"], affine, run.cfg.out / "atlas" / s.group / f"{s.name}_aal.nii.gz", dtype=np.int16)
        save_nifti(atlas["regions"], affine, run.cfg.out / "atlas" / s.group / f"{s.name}_tract_regions.nii.gz",
                   dtype=np.uint8)
        meta = metrics["subjects"][f"{s.group}/{s.name}"]
        title = (f"{s.group} {s.name}: {meta['method']}, template {meta['template']}, correlation "
                 f"{meta['quality'].get('correlation', float('nan')):.2f}")
        path = run.cfg.out / "registration" / s.group / f"{s.name}.png"
        fig.plot_registration(afd_map(fod), atlas["template"].astype(np.float32), atlas["aal"], affine, title, path)
        if s in shown:
            shutil.copy(path, run.figure(
                f"registration_{s.group}_{s.name}", f"Atlas registration: {s.group} {s.name}",
                "The subject's AFD (grey) with the registered template's outline (yellow, the template at 20 % of its "
                "maximum) and the AAL parcels it carries (colours). The outline should lie on the matching structures of "
                "the subject's AFD, and parcels on grey matter. Every subject's figure is in registration/, its AAL "
                "labels and tract regions in atlas/.", "registration"))
    return metrics


def _connectome_section(run: _Run, backend: str) -> dict:
    metrics, data = cmp.connectome_section(run.records, backend, run.cfg.mantel_permutations, run.cfg.seed)
    examples = [(f"{g} {n}", m) for g in GROUPS for n, m in data["matrices"][g][: (2 if g == "synthetic" else 1)]]
    fig.plot_connectomes(examples, run.figure(
        f"connectomes_{backend}", f"Connectomes ({backend})",
        f"Normalised 116 x 116 AAL connectomes ({metrics['weights']}), log colour scale, as the paper's Fig. 5-6A: "
        "a similar block structure means synthetic subjects connect the same regions.", f"connectomes_{backend}"))
    fig.plot_distributions([
        ("weighted global efficiency", data["efficiency"]),
        ("Mantel r between connectomes", {g: metrics["mantel_r"][g]["values"] for g in ("synthetic", "reference", "between")}),
    ], run.figure(
        f"network_{backend}", f"Global efficiency and Mantel ({backend})",
        "Left: weighted global efficiency of every normalised connectome (bctpy), compared by a Mann-Whitney U test "
        "(paper: (6.47 +- 0.16) x 10^-4 synthetic against (6.59 +- 0.22) x 10^-4, p = 3.3 x 10^-7). Right: Mantel "
        "correlations of connectome pairs within and between the sets (paper Fig. 6C).", f"connectomes_{backend}"))
    return metrics


def _tract_section(run: _Run, backend: str) -> dict:
    cfg = run.cfg
    metrics = cmp.tract_section(run.records, backend, cfg.algorithms, cfg.tracts)
    section = f"tracts_{backend}"
    for algorithm in cfg.algorithms:
        tracts, key = metrics[algorithm], f"{backend}_{algorithm}"
        fig.plot_dice({t: {g: tracts[t]["dice"][g]["values"] for g in ("synthetic", "reference", "between")} for t in cfg.tracts},
                      f"Dice of tract masks ({backend}, {algorithm})", run.figure(
            f"dice_{key}", f"Tract Dice ({backend}, {algorithm})",
            "Dice of 1 mm tract masks for all synthetic-synthetic (red), reference-reference (blue) and synthetic-reference "
            "(green) pairs, as the paper's Fig. 7B. Between-set scores like the reference ones mean synthetic tracts have "
            "realistic shapes; scores near 1 would mean mode collapse.", section))
        fig.plot_tract_volumes({t: {g: tracts[t]["volume_mm3"][g]["values"] for g in GROUPS} for t in cfg.tracts}, run.figure(
            f"volumes_{key}", f"Tract volumes ({backend}, {algorithm})",
            "Mean +- sd of each tract's mask volume per set, sorted by size, and the synthetic/reference ratio (paper "
            "Fig. 8A-B: synthetic tracts 8 +- 4 % smaller).", section))
        fig.plot_profiles({t: {g: tracts[t]["profile"][g] for g in GROUPS} for t in cfg.tracts}, run.figure(
            f"profiles_{key}", f"Along-tract fibre density ({backend}, {algorithm})",
            f"AFD at {cfg.profile_points} equidistant points along every tract, from its seed region, mean +- sd over "
            "subjects (paper Fig. 8C): peaks and dips at the same places mean the same anatomy.", section))
    a = len(cfg.algorithms) - 1  # the figures of single subjects show the last algorithm (probabilistic by default)
    for group in GROUPS:
        record = run.records[group][0]
        result, s = record["tracking"][backend], record["subject"]
        offsets = result["preview_offsets"]
        previews = {tract: result["preview_data"][offsets[k]:offsets[k + 1]]
                    for t, tract in enumerate(cfg.tracts) for k in [a * len(cfg.tracts) + t] if offsets[k + 1] > offsets[k]}
        fod, affine = load_fod_array(s.path)
        fig.plot_tracts(previews, afd_map(fod), affine, f"{s.group} {s.name}: tracts ({backend}, {cfg.algorithms[a]})", run.figure(
            f"tracts_{backend}_{s.group}_{s.name}", f"Tracts of {s.group} {s.name} ({backend})",
            "A few streamlines of every reconstructed tract over the AFD's maximum-intensity projections (paper Fig. 7A). "
            "Missing tracts found no streamline through their regions.", section))
    return metrics


def _generative_section(run: _Run, afds: dict[str, list[np.ndarray]], d2: np.ndarray) -> dict:
    subjects = run.subjects
    n_syn, n_ref = len(subjects["synthetic"]), len(subjects["reference"])
    data_range = float(max(a.max() for a in afds["reference"]))
    metrics = {
        "ms_ssim": {g: cmp.summary(pairwise_ms_ssim(afds[g], data_range)) for g in GROUPS}
        | {"settings": ms_ssim_settings(run.shape) | {"image": "AFD map", "data_range": data_range}},
        "mmd": cmp.mmd_section(d2[:, : n_syn + n_ref], n_syn, run.cfg.mmd_permutations, run.cfg.seed),
    } | cmp.frechet_section(run.records)
    panels = [("pairwise MS-SSIM of AFD maps (lower: more diverse)", {g: metrics["ms_ssim"][g]["values"] for g in GROUPS})]
    if "training" in run.sets:
        columns = slice(n_syn + n_ref, None)
        memorisation = cmp.memorisation_section(d2[:n_syn, columns], d2[n_syn:, columns], [s.name for s in subjects["synthetic"]],
                                                [s.name for s in subjects["reference"]], [s.name for s in run.sets["training"]])
        metrics["memorisation"] = memorisation
        panels.append(("distance to the nearest training subject",
                       {g: memorisation[f"{g}_distance"]["values"] for g in GROUPS}))
    fig.plot_distributions(panels, run.figure(
        "generative", "Diversity and memorisation",
        "Left: MS-SSIM between pairs of AFD maps within each set; a synthetic distribution far above the reference one "
        "signals low diversity (mode collapse). Right (with a training set): each subject's Euclidean distance to its "
        "nearest training subject; synthetic subjects much closer than held-out real subjects would be copies of "
        "training data.", "generative"))
    return metrics


def _prepare(cfg: EvaluationConfig, log: Callable[[str], None]) -> tuple[dict, tuple, list[str]]:
    """The sets, their common grid and the backends: every check that can fail does so here, before any work."""
    sets = {"synthetic": collect_subjects(cfg.synthetic, "synthetic", cfg.synthetic_key),
            "reference": collect_subjects(cfg.reference, "reference", cfg.reference_key)}
    if cfg.training is not None:
        sets["training"] = collect_subjects(cfg.training, "training", cfg.training_key)
    grid = check_common_grid([s for subjects in sets.values() for s in subjects])
    backends = resolve_backends(cfg.backend)
    ms_ssim_settings(grid[0])  # fails now, not after hours, on grids too small for it
    check_images([s for subjects in sets.values() for s in subjects])  # reads every image: last of the checks
    log(f"evaluating {len(sets['synthetic'])} synthetic against {len(sets['reference'])} reference subjects"
        + (f" ({len(sets['training'])} training subjects for the memorisation check)" if "training" in sets else "")
        + f"; grid {grid[0]} x {grid[2]}; tractography: {', '.join(backends)}")
    return sets, grid, backends


def run_evaluation(cfg: EvaluationConfig, log: Callable[[str], None] = print) -> dict:
    """Evaluate synthetic FODs against reference FODs; writes ``metrics.json``, figures and ``report.html``.

    Args:
        cfg: the run's parameters.
        log: where progress messages go.

    Returns:
        the metrics (as written to ``metrics.json``), with ``report`` the report's path.

    Raises:
        FileNotFoundError, ValueError, RuntimeError: bad inputs, before any work; RuntimeError also when no
            synthetic or no reference subject could be analysed.
        monai_fodgan.locking.OutputLockedError: another run is using ``cfg.out`` (and ``cfg.wait`` is False).
        OSError: the output folder cannot be written (the message names the file).
    """
    start = time.perf_counter()
    created = None if cfg.out.exists() else cfg.out  # the top folder this run creates, if any
    while created is not None and created.parent != created and not created.parent.exists():
        created = created.parent
    lock = OutputLock(cfg.out, wait=cfg.wait)
    with lock:
        try:
            prepared = _prepare(cfg, log)
        except BaseException:
            if created is not None:
                lock.release()
                shutil.rmtree(created, ignore_errors=True)  # bad input: leave no trace of folders this run made
            raise
        with work_area(cfg.out):
            return _run_locked(cfg, log, start, *prepared)


def _run_locked(cfg: EvaluationConfig, log: Callable[[str], None], start: float, sets: dict,
                grid: tuple[tuple[int, ...], np.ndarray, int], backends: list[str]) -> dict:
    shape, affine, n_sh = grid
    cache = ResultCache(cfg.cache_dir)
    shutil.rmtree(cache.root / "work", ignore_errors=True)  # where earlier versions kept temporary files
    everyone = [s for subjects in sets.values() for s in subjects]
    digests = {s.key: file_digest(s.path) for s in _progress(everyone, len(everyone), "hashing", cfg.progress)}
    template, template_id = _resolve_template(cfg, cache)
    jobs = max(1, min(cfg.jobs, len(sets["synthetic"]) + len(sets["reference"])))
    nthreads = None if cfg.scheduler else threads_per_subject(jobs)  # None: each Dask worker's share of its CPUs
    tasks = [SubjectTask(s, digests[s.key], cfg, tuple(backends), mask_grid(affine, shape, cfg.mask_voxel_mm), template,
                         template_id, nthreads) for g in GROUPS for s in sets[g]]
    t0 = time.perf_counter()
    records = _analyse_all(tasks, jobs, cfg.scheduler, cfg.progress)
    failed = [{"set": r["subject"].group, "subject": r["subject"].name, "error": r["error"]} for r in records
              if r["status"] == "failed"]
    for f in failed:
        log(f"  failed: {f['set']}/{f['subject']}: {f['error']}")
    ok = {g: [r for r in records if r["status"] == "done" and r["subject"].group == g] for g in GROUPS}
    if not ok["synthetic"] or not ok["reference"]:
        raise RuntimeError(f"nothing to compare: {len(ok['synthetic'])} synthetic and {len(ok['reference'])} reference "
                           f"subjects analysed; failures: {json.dumps(failed, indent=1)}")
    log(f"  per-subject analyses: {time.perf_counter() - t0:.1f} s")
    run = _Run(cfg, cache, sets, digests, ok, shape, affine, n_sh, backends, log)
    metrics: dict = {
        "config": cfg.as_dict(), "backends": backends, "grid": {"shape": list(shape), "affine": affine.tolist(), "sh": n_sh},
        "sets": {g: [s.name for s in run.subjects[g]] for g in GROUPS}
        | ({"training": [s.name for s in sets["training"]]} if "training" in sets else {}),
        "failed": failed,
        "seconds_per_subject": {f"{r['subject'].group}/{r['subject'].name}": r["seconds"] for r in records},
    }
    t0 = time.perf_counter()
    # one distance computation serves the squared differences, MMD and the memorisation check
    ordered = [s for g in GROUPS for s in run.subjects[g]] + list(sets.get("training", []))
    sources = [ImageSource(digests[s.key], partial(_load_flat, s.path)) for s in ordered]
    n_rows = sum(len(v) for v in run.subjects.values())
    d2 = pairwise_squared_distances(sources, list(range(n_rows)), list(range(len(ordered))), cfg.memory_gb, cache)
    metrics["fod"], afds = _fod_section(run, d2[:, :n_rows])
    log(f"  FOD statistics and distances: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    metrics["registration"] = _registration_section(run)
    log(f"  atlas registration figures: {time.perf_counter() - t0:.1f} s")
    metrics["connectomes"], metrics["tracts"] = {}, {}
    for backend in backends:
        t0 = time.perf_counter()
        metrics["connectomes"][backend] = _connectome_section(run, backend)
        metrics["tracts"][backend] = _tract_section(run, backend)
        log(f"  connectomes and tracts ({backend}): {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    metrics["generative"] = _generative_section(run, afds, d2)
    log(f"  diversity, distances and memorisation: {time.perf_counter() - t0:.1f} s")
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    metrics = _clean(metrics)
    metrics["verdict"] = verdict(metrics)
    with atomic_output(cfg.out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=1) + "\n")
    report = write_report(metrics, run.figures, cfg.out / "report.html")
    metrics["report"] = str(report)
    log(f"report: {report} ({metrics['seconds']} s)")
    return metrics
