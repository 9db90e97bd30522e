"""Evaluation numbers on a tiny prepared cohort with a known answer: a "model" that predicts the actual maps."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
from monai_fodgan.taskgen.evaluation import evaluate_cohort, map_metrics, phenotype_r2
from monai_fodgan.taskgen.prepare import main as prepare

SPEC = PopulationSpec(voxel_mm=12.0, n_components=4, n_contrasts=2, n_runs=1, n_frames=40)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("taskgen_eval")
    pop = make_population(root / "pop", n=8, spec=SPEC)
    g = pop / "group"
    assert prepare(["--table", str(pop / "subjects.tsv"), "--components", str(g / "components.nii.gz"),
                    "--mask", str(g / "brain_mask.nii.gz"), "--gm-mask", str(g / "gm_mask.nii.gz"),
                    "--out", str(root / "prep"), "--val", "5"]) == 0
    return root, pop


def test_perfect_predictions(cohort):
    root, pop = cohort
    prep = root / "prep"
    perfect = root / "perfect"
    perfect.mkdir()
    for e in json.loads((prep / "datalist.json").read_text())["validation"]:
        shutil.copy(prep / e["label"], perfect / f"{e['subject']}_pred.nii.gz")
    result = evaluate_cohort(prep, perfect, participants=pop / "participants.tsv")
    assert len(result["subjects"]) == 5 and result["contrasts"] == 2
    model, group = result["model"]["mean"], result["group_average"]["mean"]
    assert model["pearson_r"] == pytest.approx(1.0) and model["top1"] == 1.0 and model["dice_auc"] == pytest.approx(1.0)
    assert group["diagonality"] == pytest.approx(0.0, abs=1e-9) and model["diagonality"] > 0
    assert result["tavor"]["mean"]["pearson_r"] < 1.0
    r2 = result["phenotype_r2"]
    assert r2["predicted_maps"] == pytest.approx(r2["actual_maps"]) and np.isfinite(r2["rest_connectome"])


def test_map_metrics_of_identical_maps():
    maps = np.random.default_rng(0).normal(size=(3, 2, 20))
    m = map_metrics(maps, maps)
    assert m["mean"]["pearson_r"] == pytest.approx(1.0) and m["chance_top1"] == pytest.approx(1 / 3)


def test_phenotype_r2_known_linear_target():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    assert phenotype_r2(x, x @ np.array([1.0, -1.0, 0.5])) > 0.95
    with pytest.raises(ValueError, match="at least 5"):
        phenotype_r2(x[:4], x[:4, 0])
