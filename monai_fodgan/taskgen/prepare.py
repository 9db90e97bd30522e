"""Prepare a DeepTaskGen cohort: rest connectivity maps (and task maps) per subject, a datalist, a summary.

Command line (``python -m monai_fodgan.taskgen.prepare``)::

    python -m monai_fodgan.taskgen.prepare --table subjects.tsv --components group_ica.nii.gz \\
        --mask brain_mask.nii.gz [--gm-mask gm_mask.nii.gz] [--window 600] --out DIR
    python -m monai_fodgan.taskgen.prepare --bids DIR --components ... --mask ... --out DIR

Inputs: preprocessed rest fMRI runs (4D NIfTI, (X, Y, Z, T), on the mask's grid: MNI, cropped to the brain;
76 x 93 x 78 at 2 mm in the paper), a group component map set (4D, (X, Y, Z, K) on the same grid), the brain
mask that defines that grid, optionally a grey-matter mask (copied for the loss and the evaluation) and each
subject's task-contrast maps (4D (X, Y, Z, C), or 3D for one contrast; any grid in the same world space:
resampled linearly onto the mask's grid when it differs). Subjects without task maps are prepared for
prediction only.

Per subject (:mod:`.connectivity`): each run's K component time series by dual-regression stage 1, then the
Pearson correlation of every voxel with each, pooled over runs (each run centred on its own means), and, with
``--window``, one map set per consecutive ``window``-frame sub-sample of each run (the paper: 600 frames, so
HCP's 4 x 1,200 give 8 training samples per subject; predictions are averaged over them). The K x K
correlation of the component time series (pooled the same way) is kept as the rest-connectome baseline.

Output folder::

    maps/<subject>_conn.nii.gz           K connectivity maps over all frames (X, Y, Z, K), float32, 0 outside
    maps/<subject>_conn_win-<i>.nii.gz   the same for sub-sample i (with --window)
    task/<subject>_task.nii.gz           C task maps on the grid (X, Y, Z, C), 0 outside the brain
    connectome/<subject>.npy             K x K rest connectome (float64)
    native/<subject>.json                provenance: inputs, input hash, frames, sub-samples, seconds
    mask.nii.gz, gm_mask.nii.gz          the grid's masks
    datalist.json                        {"training": one entry per sample, "validation": one per subject
                                         (with its "samples"), "prediction": subjects without task maps}
    summary.json                         done / skipped / failed (with the reason), seconds per subject

Inputs are checked from their headers before any computation (missing file, not 4D, grid other than the
mask's, too few frames, a subject's contrast count unlike the others'), and a failing subject is named with its
file in ``summary.json`` while the others finish. Re-running skips a subject whose input CONTENTS and
parameters hash to what its sidecar recorded. Exit status: 0, 1 when any subject failed, 2 on bad arguments
(unreadable components or mask, components on another grid, dependent components).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy.ndimage import map_coordinates

from monai_fodgan.errors import subject_failure
from monai_fodgan.io import atomic_output, file_digest, save_json, save_nifti
from monai_fodgan.prepare.cohort import split_subjects
from monai_fodgan.taskgen.connectivity import (
    ConnectivityAccumulator,
    connectivity_maps,
    dual_regression_stage1,
    frame_windows,
    network_connectome,
    unmask,
)

__all__ = ["RestInput", "TaskPrepareConfig", "GroupInputs", "load_group_inputs", "prepare_taskgen_cohort",
           "read_rest_table", "scan_rest_bids", "main"]

#: bump when the computation changes, so re-runs recompute instead of skipping
VERSION = 1
#: frames read from disk at a time (bounds memory for HCP-size runs: 100 frames of 91 x 109 x 91 are 360 MB)
FRAME_CHUNK = 100
AFFINE_TOL_MM = 1e-3


@dataclass
class RestInput:
    """One subject: its rest runs (one or more 4D NIfTI) and, for training, its task-contrast maps."""

    subject: str
    rest: list[Path]
    task: Path | None = None


@dataclass
class TaskPrepareConfig:
    """Parameters of a preparation run (recorded in the summary).

    Attributes:
        out: output folder.
        window: frames per sub-sample (paper: 600); 0 writes only the all-frames maps.
        min_frames: fewest frames a run may have (correlations over fewer are noise); at least ``window``.
        n_val: validation subjects among those with task maps, a count (>= 1) or a fraction (< 1).
        seed: seed of the split.
        val_subjects: the validation subjects by name instead of a seeded draw (e.g. subjects a shipped model
            never saw); ``n_val`` is then ignored.
    """

    out: Path
    window: int = 0
    min_frames: int = 20
    n_val: float = 0.1
    seed: int = 0
    val_subjects: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.window < 0 or self.window == 1:
            raise ValueError(f"window must be 0 (none) or >= 2 frames, got {self.window}.")
        if self.min_frames < 3:
            raise ValueError(f"min_frames must be >= 3, got {self.min_frames}.")


@dataclass
class GroupInputs:
    """The cohort's grid (from the mask), its masks and the group component maps over the mask's voxels."""

    mask: np.ndarray  # (X, Y, Z) bool
    affine: np.ndarray
    maps: np.ndarray  # (V, K) float64
    gm: np.ndarray | None
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Hash of what shapes every subject's maps: the components and the mask (not the GM mask)."""
        return hashlib.sha256("".join(file_digest(self.paths[k]) for k in ("components", "mask")).encode()).hexdigest()


def _header(path: Path, role: str) -> nib.Nifti1Image:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{role} {path}: no such file.")
    try:
        return nib.load(str(path))
    except Exception as e:  # nibabel raises many types for unreadable files
        raise ValueError(f"{role} {path}: cannot be read as NIfTI ({type(e).__name__}: {e}).") from e


def _same_grid(img: nib.Nifti1Image, mask: np.ndarray, affine: np.ndarray) -> bool:
    return tuple(img.shape[:3]) == mask.shape and np.allclose(img.affine, affine, atol=AFFINE_TOL_MM)


def load_group_inputs(components: Path, mask: Path, gm_mask: Path | None = None) -> GroupInputs:
    """Read and check the mask (the grid), the component maps and the optional grey-matter mask.

    Raises:
        FileNotFoundError, ValueError: a file is missing, unreadable, of the wrong dimensionality or grid, the mask
            is empty, or the components are linearly dependent within it (the message names the file).
    """
    m_img = _header(mask, "mask")
    if len(m_img.shape) != 3:
        raise ValueError(f"mask {mask}: must be 3D, got shape {m_img.shape}.")
    brain = np.asarray(m_img.dataobj) > 0
    if not brain.any():
        raise ValueError(f"mask {mask}: empty.")
    affine = np.asarray(m_img.affine, dtype=np.float64)
    c_img = _header(components, "components")
    if len(c_img.shape) != 4:
        raise ValueError(f"components {components}: must be 4D (X, Y, Z, K), got shape {c_img.shape}.")
    if not _same_grid(c_img, brain, affine):
        raise ValueError(f"components {components}: grid {c_img.shape[:3]} differs from the mask's {brain.shape} "
                         f"(or their affines differ).")
    maps = np.asarray(c_img.dataobj, dtype=np.float64)[brain]
    if np.linalg.matrix_rank(maps - maps.mean(0)) < maps.shape[1]:
        raise ValueError(f"components {components}: the {maps.shape[1]} maps are linearly dependent within the mask.")
    gm = None
    paths = {"components": Path(components), "mask": Path(mask)}
    if gm_mask is not None:
        g_img = _header(gm_mask, "grey-matter mask")
        if len(g_img.shape) != 3 or not _same_grid(g_img, brain, affine):
            raise ValueError(f"grey-matter mask {gm_mask}: must be 3D on the mask's grid {brain.shape}.")
        gm = (np.asarray(g_img.dataobj) > 0) & brain
        paths["gm_mask"] = Path(gm_mask)
    return GroupInputs(brain, affine, maps, gm, paths)


def _check_subject(item: RestInput, group: GroupInputs, cfg: TaskPrepareConfig) -> tuple[list[int], int | None]:
    """Header checks of one subject before any computation: (frames per run, contrast count or None)."""
    if not item.rest:
        raise ValueError(f"subject {item.subject}: no rest runs.")
    frames = []
    for run in item.rest:
        img = _header(run, f"subject {item.subject}: rest run")
        if len(img.shape) != 4:
            raise ValueError(f"subject {item.subject}: rest run {run} must be 4D (X, Y, Z, T), got shape {img.shape}.")
        if not _same_grid(img, group.mask, group.affine):
            raise ValueError(f"subject {item.subject}: rest run {run} is on grid {img.shape[:3]}, not the mask's "
                             f"{group.mask.shape} (or its affine differs); resample it to the mask's grid first.")
        need = max(cfg.min_frames, cfg.window)
        if img.shape[3] < need:
            raise ValueError(f"subject {item.subject}: rest run {run} has {img.shape[3]} frames, fewer than {need}.")
        frames.append(int(img.shape[3]))
    contrasts = None
    if item.task is not None:
        img = _header(item.task, f"subject {item.subject}: task maps")
        if len(img.shape) not in (3, 4):
            raise ValueError(f"subject {item.subject}: task maps {item.task} must be 3D or 4D, got shape {img.shape}.")
        contrasts = 1 if len(img.shape) == 3 else int(img.shape[3])
    return frames, contrasts


def _load_masked(path: Path, mask: np.ndarray) -> np.ndarray:
    """(V, T) float32 masked series of a 4D run, read ``FRAME_CHUNK`` frames at a time.

    The file stays open between chunks: for a ``.nii.gz`` each chunk then continues the decompression where the
    last one stopped, instead of starting again from the top (measured: 6 chunks of a 64 x 64 x 40 x 600 run in
    1.7 s instead of 5.4 s; reading it whole takes 1.9 s)."""
    img = nib.load(str(path), keep_file_open=True)
    n = img.shape[3]
    out = np.empty((int(mask.sum()), n), dtype=np.float32)
    for start in range(0, n, FRAME_CHUNK):
        block = np.asarray(img.dataobj[..., start:start + FRAME_CHUNK], dtype=np.float32)
        out[:, start:start + block.shape[3]] = block[mask]
    if not np.isfinite(out).all():
        raise ValueError(f"rest run {path}: non-finite values inside the mask.")
    return out


def _task_on_grid(path: Path, group: GroupInputs) -> np.ndarray:
    """(X, Y, Z, C) float32 task maps on the mask's grid (linear resampling in world space), 0 outside the mask."""
    img = nib.load(str(path))
    data = np.asarray(img.dataobj, dtype=np.float32)
    if data.ndim == 3:
        data = data[..., None]
    if not _same_grid(img, group.mask, group.affine):
        idx = np.stack(np.meshgrid(*[np.arange(s) for s in group.mask.shape], indexing="ij"), -1).astype(np.float64)
        world = idx @ group.affine[:3, :3].T + group.affine[:3, 3]
        src = (world - img.affine[:3, 3]) @ np.linalg.inv(img.affine[:3, :3]).T
        coords = np.moveaxis(src, -1, 0)
        data = np.stack([map_coordinates(data[..., c], coords, order=1, mode="constant", cval=0.0)
                         for c in range(data.shape[3])], -1).astype(np.float32)
    if not np.isfinite(data[group.mask]).all():
        raise ValueError(f"task maps {path}: non-finite values inside the mask.")
    data[~group.mask] = 0
    return data


def input_hash(item: RestInput, group_digest: str, cfg: TaskPrepareConfig) -> str:
    """Hash of a subject's input CONTENTS, the group inputs and the parameters that shape its outputs."""
    h = hashlib.sha256()
    for run in item.rest:
        h.update(f"rest:{file_digest(run)};".encode())
    h.update(f"task:{file_digest(item.task) if item.task else '-'};group:{group_digest};".encode())
    h.update(json.dumps({"window": cfg.window, "version": VERSION}).encode())
    return h.hexdigest()



def _outputs(subject: str, n_windows: int, has_task: bool) -> dict[str, str]:
    files = {"conn": f"maps/{subject}_conn.nii.gz", "connectome": f"connectome/{subject}.npy"}
    files.update({f"win-{i}": f"maps/{subject}_conn_win-{i}.nii.gz" for i in range(1, n_windows + 1)})
    if has_task:
        files["task"] = f"task/{subject}_task.nii.gz"
    return files


def _process_subject(item: RestInput, group: GroupInputs, group_digest: str, cfg: TaskPrepareConfig) -> dict:
    """One subject, checked then computed. Never raises: a failure comes back as a status with its reason."""
    start = time.perf_counter()
    sidecar = cfg.out / "native" / f"{item.subject}.json"
    try:
        frames, contrasts = _check_subject(item, group, cfg)
        digest = input_hash(item, group_digest, cfg)
        if sidecar.is_file():
            previous = json.loads(sidecar.read_text())
            if previous.get("input_hash") == digest and all((cfg.out / f).is_file() for f in previous["files"].values()):
                return {**previous, "status": "skipped"}
        pooled, windows, series = ConnectivityAccumulator(), [], []
        for run_path in item.rest:  # one run in memory at a time
            data = _load_masked(run_path, group.mask)
            ts = dual_regression_stage1(data, group.maps)
            pooled.add(data, ts)
            series.append(ts - ts.mean(0))
            if cfg.window:
                windows += [connectivity_maps(data[:, w], ts[w]) for w in frame_windows(len(ts), cfg.window)]
            del data
        conn = pooled.maps()
        files = _outputs(item.subject, len(windows), item.task is not None)
        save_nifti(np.moveaxis(unmask(conn, group.mask), -1, 0), group.affine, cfg.out / files["conn"])
        for i, w in enumerate(windows, 1):
            save_nifti(np.moveaxis(unmask(w, group.mask), -1, 0), group.affine, cfg.out / files[f"win-{i}"])
        with atomic_output(cfg.out / files["connectome"]) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, network_connectome(np.vstack(series)))
        if item.task is not None:
            save_nifti(np.moveaxis(_task_on_grid(item.task, group), -1, 0), group.affine, cfg.out / files["task"])
        record = {"subject": item.subject, "status": "done", "input_hash": digest, "files": files,
                  "inputs": {"rest": [str(p) for p in item.rest], "task": str(item.task) if item.task else None},
                  "frames": frames, "windows": len(windows), "contrasts": contrasts,
                  "components": int(group.maps.shape[1]), "seconds": round(time.perf_counter() - start, 3)}
        save_json(record, sidecar)
        return record
    except Exception as e:  # one subject's failure must not stop the cohort
        return subject_failure(item.subject, e, round(time.perf_counter() - start, 3))


def prepare_taskgen_cohort(items: Sequence[RestInput], group: GroupInputs, cfg: TaskPrepareConfig,
                           progress: bool = True) -> dict:
    """Prepare every subject, split those with task maps, write the datalist and the summary.

    Returns:
        the summary (also ``summary.json``); ``summary["failed"]`` lists failed subjects with reasons.
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
    save_nifti(group.mask, group.affine, cfg.out / "mask.nii.gz", dtype=np.uint8)
    if group.gm is not None:
        save_nifti(group.gm, group.affine, cfg.out / "gm_mask.nii.gz", dtype=np.uint8)
    group_digest = group.digest
    records = []
    for k, item in enumerate(items, 1):
        records.append(_process_subject(item, group, group_digest, cfg))
        if progress:
            r = records[-1]
            detail = r.get("error") or f"{r.get('seconds')} s"
            print(f"[{k}/{len(items)}] {r['subject']}: {r['status']} ({detail})", flush=True)
    ok = [r for r in records if r["status"] in ("done", "skipped")]
    failed = [r for r in records if r["status"] == "failed"]
    counts = {r["contrasts"] for r in ok if r["contrasts"] is not None}
    if len(counts) > 1:  # a cohort-level check: the majority count wins, the others fail
        common = max(counts, key=lambda c: sum(r["contrasts"] == c for r in ok))
        for r in ok:
            if r["contrasts"] not in (None, common):
                r["status"] = "failed"
                r["error"] = f"subject {r['subject']}: task maps {r['inputs']['task']} have {r['contrasts']} contrasts, the cohort {common}."
                failed.append(r)
        ok = [r for r in ok if r["status"] != "failed"]
    labelled = {r["subject"]: r for r in ok if "task" in r["files"]}
    if cfg.val_subjects is not None:
        missing = sorted(set(cfg.val_subjects) - set(labelled))
        if missing:
            raise ValueError(f"validation subjects without prepared task maps: {missing}")
        val = sorted(cfg.val_subjects)
        train = sorted(set(labelled) - set(val))
    else:
        train, val = split_subjects(list(labelled), cfg.n_val, cfg.seed)

    def samples(r: dict) -> list[str]:
        return [f for key, f in sorted(r["files"].items()) if key.startswith("win-")] or [r["files"]["conn"]]

    datalist = {
        "description": "monai_fodgan.taskgen: K rest connectivity maps (image) -> C task-contrast maps (label), "
                       "MNI grid of mask.nii.gz",
        "components": int(group.maps.shape[1]), "contrasts": max(counts) if counts else None,
        "shape": list(group.mask.shape), "window": cfg.window, "seed": cfg.seed,
        "training": [{"image": s, "label": labelled[n]["files"]["task"], "subject": n}
                     for n in train for s in samples(labelled[n])],
        "validation": [{"image": labelled[n]["files"]["conn"], "samples": samples(labelled[n]),
                        "label": labelled[n]["files"]["task"], "subject": n} for n in val],
        "prediction": [{"image": r["files"]["conn"], "samples": samples(r), "subject": r["subject"]}
                       for r in ok if r["subject"] not in labelled],
    }
    if ok:
        save_json(datalist, cfg.out / "datalist.json")
    summary = {
        "subjects": len(items), "done": sum(r["status"] == "done" for r in ok),
        "skipped": sum(r["status"] == "skipped" for r in ok),
        "failed": [{"subject": r["subject"], "error": r["error"]} for r in failed],
        "training": len(train), "validation": len(val), "prediction": len(datalist["prediction"]),
        "seconds_per_subject": {r["subject"]: r.get("seconds") for r in records},
        "total_seconds": round(time.perf_counter() - start, 2),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "group": {k: str(v) for k, v in group.paths.items()},
    }
    save_json(summary, cfg.out / "summary.json")
    return summary


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporaries a killed run left behind (``atomic_output``'s hidden ``.<name>-*`` files).

    One preparation per output folder at a time: a concurrent run's temporaries would be removed too."""
    for folder in (out, *(out / d for d in ("maps", "task", "connectome", "native"))):
        if folder.is_dir():
            for leftover in folder.glob(".*-*"):
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)


def read_rest_table(path: str | Path) -> list[RestInput]:
    """Subjects from a CSV/TSV table with columns ``subject``, ``rest`` (runs separated by ``;``) and optional
    ``task``. Relative paths are relative to the table's folder.

    Raises:
        ValueError: missing or unknown columns, or a row without rest runs (the line is named).
    """
    path = Path(path)
    text = path.read_text()
    lines = text.splitlines()
    if not lines:
        raise ValueError(f"{path}: empty table.")
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" or "\t" in lines[0] else csv.excel
    rows = list(csv.DictReader(lines, dialect=dialect))
    if not rows:
        raise ValueError(f"{path}: no subjects.")
    unknown = set(rows[0]) - {"subject", "rest", "task"}
    if not {"subject", "rest"} <= set(rows[0]) or unknown:
        raise ValueError(f"{path}: columns must be subject, rest[, task]; got {sorted(rows[0])}.")
    items = []
    for n, row in enumerate(rows, start=2):
        runs = [path.parent / r.strip() for r in (row["rest"] or "").split(";") if r.strip()]
        if not runs:
            raise ValueError(f"{path}, line {n}: subject {row['subject']!r} has no rest runs.")
        task = (row.get("task") or "").strip()
        items.append(RestInput(row["subject"].strip(), runs, path.parent / task if task else None))
    return items


def scan_rest_bids(root: str | Path) -> list[RestInput]:
    """Subjects of a BIDS-style folder: ``sub-*/[ses-*/]func/*_task-rest*_bold.nii[.gz]`` (runs in name order)
    and, when present, ``derivatives/taskmaps/<subject>_contrasts.nii[.gz]``."""
    root = Path(root)
    runs: dict[str, list[Path]] = {}
    for bold in sorted(root.glob("sub-*/**/func/*_task-rest*_bold.nii*")):
        subject = "_".join(p for p in bold.name.split("_") if p.startswith(("sub-", "ses-")))
        runs.setdefault(subject, []).append(bold)
    if not runs:
        raise ValueError(f"{root}: no sub-*/func/*_task-rest*_bold.nii[.gz] files found.")
    items = []
    for subject, paths in runs.items():
        tasks = sorted((root / "derivatives" / "taskmaps").glob(f"{subject}_contrasts.nii*"))
        items.append(RestInput(subject, paths, tasks[0] if tasks else None))
    return items


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m monai_fodgan.taskgen.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("subjects (one of --table, --bids)")
    src.add_argument("--table", type=Path, help="CSV/TSV: subject, rest (runs separated by ';'), task")
    src.add_argument("--bids", type=Path, help="BIDS-style folder (sub-*/func/*_task-rest*_bold.nii.gz)")
    p.add_argument("--components", type=Path, required=True, help="group component maps, 4D on the mask's grid")
    p.add_argument("--mask", type=Path, required=True, help="brain mask: defines the grid (MNI, cropped)")
    p.add_argument("--gm-mask", type=Path, help="grey-matter mask on the same grid (for the loss and evaluation)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--window", type=int, default=0, help="frames per sub-sample (paper: 600); 0: none")
    p.add_argument("--min-frames", type=int, default=20, help="fewest frames a run may have")
    p.add_argument("--val", type=float, default=0.1, help="validation subjects: count, or fraction if < 1")
    p.add_argument("--val-subjects", nargs="+", metavar="SUBJECT",
                   help="validation subjects by name (instead of --val's seeded draw)")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.table is None) == (args.bids is None):
        parser.error("give exactly one of --table, --bids")
    try:
        items = read_rest_table(args.table) if args.table else scan_rest_bids(args.bids)
        names = [i.subject for i in items]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate subject IDs: {sorted({n for n in names if names.count(n) > 1})}")
        unknown = sorted(set(args.val_subjects or ()) - set(names))
        if unknown:
            raise ValueError(f"--val-subjects not among the subjects: {unknown}")
        cfg = TaskPrepareConfig(out=args.out, window=args.window, min_frames=args.min_frames, n_val=args.val,
                                seed=args.seed, val_subjects=tuple(args.val_subjects) if args.val_subjects else None)
        group = load_group_inputs(args.components, args.mask, args.gm_mask)
    except (OSError, ValueError) as e:
        parser.error(str(e))
    summary = prepare_taskgen_cohort(items, group, cfg)
    print(f"prepared {summary['done']} subjects, skipped {summary['skipped']} already done, "
          f"{len(summary['failed'])} failed; training {summary['training']}, validation {summary['validation']}, "
          f"prediction only {summary['prediction']}; {summary['total_seconds']} s. Summary: {args.out / 'summary.json'}")
    for failure in summary["failed"]:
        print(f"FAILED {failure['subject']}: {failure['error']}", file=sys.stderr)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
