"""How well the evaluation recovers a phantom's own ground-truth bundles from REAL (reference) subjects.

The check that the demo's tract validation means something: if prepared phantom subjects (simulated DWI -> CSD ->
training grid) did not give back their own bundles, no synthetic-reference Dice could be trusted. Each subject
goes through the evaluation's own per-subject steps (:mod:`~.per_subject`: atlas registration of the template,
then tract tracking with the configured backend and settings, 1 mm tract masks; the whole-brain connectome is
left out) and its tracts are compared with the phantom's bundle masks (``--truth``), as the evaluation's
``truth_dice``. The result is one Dice per subject, algorithm and tract.

Example::

    from monai_fodgan.evaluation import EvaluationConfig
    from monai_fodgan.evaluation.truth_recovery import tract_recovery
    cfg = EvaluationConfig(synthetic="dataset", reference="dataset", out="recovery", template="phantom",
                           truth="phantom", streamlines=1000, tract_streamlines=200, algorithms=("probabilistic",))
    dice = tract_recovery(["dataset/fod/sub-0001.nii.gz"], cfg)   # {"sub-0001": {"probabilistic": {"CC": 0.8, ...}}}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_fodgan.evaluation.config import EvaluationConfig, resolve_backends

__all__ = ["recovery_table", "tract_recovery"]


def _subject_dice(task: object) -> dict[str, dict[str, float]]:
    """{algorithm: {tract: Dice}} of one subject: the evaluation's atlas step (cached) and its tract tracking,
    without the whole-brain connectome (which the Dice does not use)."""
    import shutil
    import tempfile

    import torch

    from monai_fodgan.evaluation.cache import ResultCache
    from monai_fodgan.evaluation.per_subject import (
        _atlas_step,
        _tract_regions,
        tracking_settings,
    )
    from monai_fodgan.evaluation.subjects import afd_map, load_fod_array
    from monai_fodgan.evaluation.tractography import (
        BACKENDS,
        make_tracking_image,
    )
    from monai_fodgan.evaluation.tracts import (
        dice_indices,
        indices_on_grid,
        measure_tract,
        truth_masks,
    )

    torch.set_num_threads(1)
    cfg = task.cfg
    fod, affine = load_fod_array(task.subject.path)
    atlas = _atlas_step(task, ResultCache(cfg.cache_dir), fod, affine)
    regions = _tract_regions(atlas, cfg.tracts, affine)
    found = truth_masks(cfg.truth, task.subject.name, cfg.tracts)
    if found is None:
        raise FileNotFoundError(f"{cfg.truth}: no ground-truth bundles of {task.subject.name} (derivatives/phantom/).")
    truth = {t: indices_on_grid(v, found[1], task.grid) for t, v in found[0].items()}
    settings = tracking_settings(cfg)
    work = Path(tempfile.mkdtemp(prefix=f"recovery-{task.subject.name}-", dir=cfg.out))
    try:
        tracker = BACKENDS[task.backends[0]](make_tracking_image(fod, affine, settings, work), settings)
        afd = afd_map(fod)
        out: dict[str, dict[str, float]] = {}
        for algorithm in cfg.algorithms:
            out[algorithm] = {}
            for tract in cfg.tracts:
                lines = tracker.tract(algorithm, regions[tract], cfg.tract_streamlines) if regions[tract].include[0].any() else []
                mask = measure_tract(lines, np.zeros(3), afd, affine, task.grid, 2, cfg.mask_threshold).mask
                out[algorithm][tract] = dice_indices(mask, truth[tract]) if tract in truth else float("nan")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def tract_recovery(paths: Sequence[str | Path], cfg: EvaluationConfig) -> dict[str, dict[str, dict[str, float]]]:
    """Dice of every tract of every subject against the phantom's ground truth (``cfg.truth``).

    Args:
        paths: FOD images of phantom subjects (file stem = subject ID in the phantom folder), all on one grid.
        cfg: the evaluation's settings (``truth`` required; backend, tracts, algorithms, tracking settings, mask
            voxel and threshold as in a full evaluation; ``out`` holds the atlas cache, so a re-run reuses the
            registrations). The whole-brain connectome is not computed.

    Returns:
        ``{subject: {algorithm: {tract: dice}}}`` for the first backend (NaN for a tract without ground truth).

    Raises:
        ValueError: without ``cfg.truth``; FileNotFoundError: a subject without ground truth.
    """
    from monai_fodgan.evaluation.cache import ResultCache
    from monai_fodgan.evaluation.per_subject import SubjectTask
    from monai_fodgan.evaluation.pipeline import _resolve_template
    from monai_fodgan.evaluation.subjects import EvalSubject, check_common_grid
    from monai_fodgan.evaluation.tracts import mask_grid
    from monai_fodgan.io import file_digest
    from monai_fodgan.processes import process_pool

    if cfg.truth is None:
        raise ValueError("tract_recovery needs cfg.truth: the phantom population the subjects come from.")
    subjects = [EvalSubject("reference", _stem(Path(p)), Path(p)) for p in paths]
    shape, affine = check_common_grid(subjects)[:2]
    backend = resolve_backends(cfg.backend)[0]
    cfg.out.mkdir(parents=True, exist_ok=True)
    template, template_id = _resolve_template(cfg, ResultCache(cfg.cache_dir))
    grid = mask_grid(affine, shape[:3], cfg.mask_voxel_mm)
    tasks = [SubjectTask(s, file_digest(s.path), cfg, (backend,), grid, template, template_id, 1) for s in subjects]
    if cfg.jobs == 1:
        results = [_subject_dice(t) for t in tasks]
    else:
        with process_pool(cfg.jobs) as pool:
            results = list(pool.map(_subject_dice, tasks))
    return {task.subject.name: result for task, result in zip(tasks, results)}


def recovery_table(dice: dict[str, dict[str, dict[str, float]]], algorithm: str) -> str:
    """A text table: one row per tract, one column per subject, then the minimum over subjects."""
    subjects = sorted(dice)
    tracts = list(next(iter(dice.values()))[algorithm])
    rows = [f"{'tract':8s} " + " ".join(f"{s:>9s}" for s in subjects) + "       min"]
    for t in tracts:
        values = [dice[s][algorithm][t] for s in subjects]
        rows.append(f"{t:8s} " + " ".join(f"{v:9.3f}" for v in values) + f" {np.nanmin(values):9.3f}")
    return "\n".join(rows)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
