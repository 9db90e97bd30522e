"""The DeepTaskGen verdict: each check follows from the numbers by its stated target (hand-made metrics)."""

from __future__ import annotations

import pytest

from monai_fodgan.taskgen.report import taskgen_verdict


def _metrics(model_r=0.9, tavor_r=0.8, model_diag=0.05, tavor_diag=0.04, top1=0.6, subjects=10, phenotype=(0.5, 0.54)):
    def method(r, diag, t1):
        return {"mean": {"pearson_r": r, "diagonality": diag, "top1": t1, "dice_auc": 0.7}, "chance_top1": 1 / subjects}

    m = {"model": method(model_r, model_diag, top1), "group_average": method(0.85, 0.0, 0.1),
         "tavor": method(tavor_r, tavor_diag, 0.3), "subjects": [f"s{k}" for k in range(subjects)]}
    if phenotype is not None:
        m["phenotype_r2"] = {"predicted_maps": phenotype[0], "actual_maps": phenotype[1], "rest_connectome": 0.4,
                             "target": [0.0] * subjects}
    return m


def _status(v: dict) -> list[str]:
    return [c["status"] for c in v["checks"]]


def test_every_target_met():
    v = taskgen_verdict(_metrics())
    assert _status(v) == ["pass", "pass", "pass", "pass"] and v["summary"].startswith("4 pass, 0 fail")


@pytest.mark.parametrize("kwargs, failing, reason", [
    ({"model_r": 0.84}, 0, "group average"),                 # below the group average's r
    ({"model_diag": 0.04}, 1, "Tavor regression"),          # a tie is not "above"
    ({"top1": 0.29}, 2, "29%"),                              # 2.9 x chance: below 3 x
    ({"top1": 0.45, "subjects": 100}, 2, "45%"),            # 45 x chance, but under 0.5
    ({"phenotype": (0.48, 0.54)}, 3, "11%"),                 # 11 % less variance explained than actual maps
])
def test_a_missed_target_fails_with_its_reason(kwargs, failing, reason):
    v = taskgen_verdict(_metrics(**kwargs))
    statuses = _status(v)
    assert statuses[failing] == "fail" and statuses.count("fail") == 1
    assert reason in v["checks"][failing]["reason"]


def test_phenotype_without_evidence_or_data():
    assert _status(taskgen_verdict(_metrics(phenotype=(0.1, -0.2))))[3] == "pipeline"
    assert _status(taskgen_verdict(_metrics(phenotype=None)))[3] == "n/a"
    assert _status(taskgen_verdict(_metrics(phenotype=(0.6, 0.54))))[3] == "pass"  # better than actual maps
