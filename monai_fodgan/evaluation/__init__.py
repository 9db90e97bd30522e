"""Validation of synthetic FODs as the paper did it (tractography, AAL connectomes, tracts) and generative metrics.

Entry points: :func:`run_evaluation` with an :class:`EvaluationConfig` (or ``python -m monai_fodgan.evaluate``,
or the bundle's ``evaluate`` run). Modules, one job each: ``subjects`` (the sets), ``atlas`` and ``registration``
(AAL and tract regions in subject space), ``tractography/`` (MRtrix3 and DIPY backends), ``streamlines``,
``connectome``, ``network`` (global efficiency, Mantel, Mann-Whitney), ``tracts`` (masks, Dice, volumes,
profiles), ``fod_statistics`` and ``distances`` (voxel-level statistics), ``generative`` (MS-SSIM, MMD,
memorisation, Frechet), ``per_subject`` and ``comparison`` (the two stages), ``figures``, ``report``, ``cache``,
``truth_recovery`` (do reference phantom subjects recover their own ground-truth bundles?).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.evaluation.config import EvaluationConfig
    from monai_fodgan.evaluation.pipeline import run_evaluation
    from monai_fodgan.evaluation.truth_recovery import recovery_table, tract_recovery

__all__ = ["EvaluationConfig", "recovery_table", "run_evaluation", "tract_recovery"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.evaluation.config": ["EvaluationConfig"],
    "monai_fodgan.evaluation.pipeline": ["run_evaluation"],
    "monai_fodgan.evaluation.truth_recovery": ["recovery_table", "tract_recovery"],
})
