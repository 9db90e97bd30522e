"""The verdict's stated targets (parcel share, efficiency test, Mantel, MMD, every tract) on hand-built metrics."""

from __future__ import annotations

import copy

from monai_fodgan.evaluation.verdict import verdict


def _stats(mean: float, n: int = 4) -> dict:
    return {"n": n, "mean": mean, "max": mean}


def _tract(between: float, within: float, ratio: float) -> dict:
    return {"streamlines": {"reference": _stats(100.0)}, "dice": {"between": _stats(between), "reference": _stats(within)},
            "volume_mm3": {"ratio_synthetic_to_reference": ratio}}


def _metrics() -> dict:
    parcels = [f"Frontal_{k}" for k in range(18)] + ["Cerebelum_3_L", "Vermis_1_2"]
    bias = [0.02] * 17 + [0.3] + [0.9, 0.9]  # 17 of 18 parcels outside the cerebellum within 10 %
    return {
        "fod": {"negative_l0_fraction": {"synthetic": _stats(0.001), "reference": _stats(0.0), "region": "the brain mask"},
                "squared_differences": {"synthetic": _stats(0.9), "reference": _stats(1.0)},
                "regional_bias": {"parcels": parcels, "relative_difference_mean": bias,
                                  "cerebellum": {"mean_difference": {"max": 0.9}, "sd_difference": {"max": 0.1}},
                                  "elsewhere": {"mean_difference": {"max": 0.3}, "sd_difference": {"max": 0.1}}}},
        "connectomes": {"mrtrix": {"global_efficiency": {"synthetic": _stats(1.0), "reference": _stats(1.01),
                                                         "mann_whitney": {"u": 7.0, "p": 0.4}},
                                   "mantel_r": {"between": _stats(0.72), "reference": _stats(0.8)}}},
        "tracts": {"mrtrix": {"probabilistic": {"CC": _tract(0.5, 0.55, 1.0), "UF_L": _tract(0.3, 0.5, 0.9),
                                                "volume_ratio": _stats(0.95)}}},
        "generative": {"mmd": {"mmd2": 0.01, "p": 0.3}, "memorisation": {"flagged": []}},
    }


def _checks(metrics: dict) -> dict[str, dict]:
    return {c["check"]: c for c in verdict(metrics)["checks"]}


def test_targets_pass_and_fail_where_the_numbers_say() -> None:
    checks = _checks(_metrics())
    share = checks["AAL parcels outside the cerebellum with |mean AFD bias| under 10%"]
    assert share["value"] == "94% of 18" and share["status"] == "pass"  # the cerebellum is left out
    assert checks["global efficiency, Mann-Whitney p (mrtrix)"]["status"] == "pass"
    assert checks["Mantel r between sets / within reference (mrtrix)"]["status"] == "pass"  # 0.72 >= 0.8 x 0.8
    assert checks["MMD two-sample test, p"]["status"] == "pass"
    every = checks["every tract: Dice and volume within target (mrtrix, probabilistic)"]
    assert every["status"] == "fail" and every["value"] == "1 of 2" and "UF_L (Dice 0.60 x" in every["reason"]
    assert checks["diversity: within-set squared differences, synthetic / reference"]["status"] == "pass"


def test_each_target_fails_when_its_number_is_off() -> None:
    m = copy.deepcopy(_metrics())
    m["fod"]["regional_bias"]["relative_difference_mean"][:2] = [0.2, -0.15]
    m["connectomes"]["mrtrix"]["global_efficiency"]["mann_whitney"]["p"] = 0.01
    m["connectomes"]["mrtrix"]["mantel_r"]["between"] = _stats(0.5)
    m["generative"]["mmd"]["p"] = 0.02
    m["fod"]["squared_differences"]["synthetic"] = _stats(0.7)  # below 0.8 x: collapse
    checks = _checks(m)
    for name in ("AAL parcels outside the cerebellum with |mean AFD bias| under 10%",
                 "global efficiency, Mann-Whitney p (mrtrix)", "Mantel r between sets / within reference (mrtrix)",
                 "MMD two-sample test, p", "diversity: within-set squared differences, synthetic / reference"):
        assert checks[name]["status"] == "fail" and checks[name]["reason"], name
