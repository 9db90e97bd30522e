"""On the demo grid, a real (reference) phantom subject recovers its OWN ground-truth bundles: every tract, the
uncinate included, by probabilistic tracking with the evaluation's settings (issue 12, item 2). The subject goes the
whole way a reference subject goes in the main job: simulated multi-shell DWI (SNR 30) -> MRtrix3 CSD -> the
isotropic cohort crop on the demo grid -> phantom-template registration -> iFOD2 -> 1 mm tract masks.

Reduced from ``benchmarks/phantom_tract_recovery.py`` (several subjects, more streamlines) to one subject, so the
bound is lower than the benchmark's 0.6: see ``BOUND``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_fodgan.data.phantom import DEMO_SHAPE, make_population
from monai_fodgan.evaluation import EvaluationConfig
from monai_fodgan.evaluation.atlas import DEFAULT_TRACTS
from monai_fodgan.evaluation.truth_recovery import recovery_table, tract_recovery
from monai_fodgan.prepare import PrepareConfig, prepare_cohort, scan_bids

#: streamlines per tract: the main job's
STREAMLINES = 1000
#: seeds per requested streamline: the main job's
SEEDS = 20
#: every tract's Dice with its ground truth must reach this. The benchmark (3 prepared subjects, these settings) gives
#: every tract a mean of 0.66 or more (the issue's 0.6, which the report's verdict checks on the mean over reference
#: subjects), but single subjects go down to 0.547 (one subject's left IFOF, whose tube a random jitter brings close
#: to the optic radiation) and 0.573 (another's left OR): one subject is checked against a floor just below that.
BOUND = 0.5


@pytest.fixture(scope="module")
def recovered(mrtrix: None, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("recovery")
    phantom = make_population(root / "phantom", n=1, shape=DEMO_SHAPE, seed=0)
    summary = prepare_cohort(scan_bids(phantom), PrepareConfig(out=root / "dataset", shape=DEMO_SHAPE, isotropic=True,
                                                               n_val=0.0, jobs=1), progress=False)
    assert not summary["failed"], summary["failed"]
    cfg = EvaluationConfig(synthetic=root, reference=root, out=root / "evaluation", backend="mrtrix",
                           algorithms=("probabilistic",), tract_streamlines=STREAMLINES, tract_seeds=SEEDS, template="phantom",
                           truth=phantom, progress=False)
    return tract_recovery([root / "dataset" / "fod" / "sub-0001.nii.gz"], cfg)


def test_every_tract_recovers_its_ground_truth(recovered: dict) -> None:
    print("\n" + recovery_table(recovered, "probabilistic"))
    dice = recovered["sub-0001"]["probabilistic"]
    assert set(dice) == set(DEFAULT_TRACTS)
    assert all(np.isfinite(v) for v in dice.values())
    low = {t: round(v, 3) for t, v in dice.items() if v < BOUND}
    assert not low, f"tracts below {BOUND}: {low}"


def test_recovery_needs_the_truth(tmp_path: Path) -> None:
    cfg = EvaluationConfig(synthetic=tmp_path, reference=tmp_path, out=tmp_path / "out")
    with pytest.raises(ValueError, match="truth"):
        tract_recovery([tmp_path / "sub-0001.nii.gz"], cfg)
