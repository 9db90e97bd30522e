"""The verdict of an evaluation: every check against a stated target, pass or fail, with the reason for each fail.

Why a separate verdict: ``metrics.json`` holds hundreds of numbers, and whether the synthetic subjects are good is
a judgement the reader should not have to reconstruct. Each check names its target and where the target comes from
(the paper's reported ranges, the phantom's known ground truth, or our own rule where the paper gives none), so a
reader can disagree with a target without re-running anything.

Two kinds of failure are kept apart:

* ``fail``: the synthetic subjects miss the target (a property of the model);
* ``pipeline``: the measurement itself cannot be trusted on these data (a tract found in no reference subject, an
  atlas registration below the correlation threshold, the phantom's known bundles not recovered in the reference
  subjects). The numbers that depend on it are then not evidence either way.

``n/a`` marks a check without data in this run (e.g. no training set, so no memorisation check).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["STATUSES", "TARGETS", "check", "summarise", "verdict"]

STATUSES = ("pass", "fail", "pipeline", "n/a")

#: Thresholds, each with its source (shown in the report next to the check).
TARGETS = {
    "negative_l0": (0.01, "paper: negative l = 0 voxels 'some' in synthetic, none in validation; ours: at most 1 % of "
                          "brain voxels"),
    "diversity": ((0.8, 1.5), "paper: synthetic pairwise squared differences (18.4 +- 6.0) x 10^3 against validation "
                              "(28.1 +- 4.5) x 10^3, a ratio of 0.65; ours: 0.8 to 1.5 (below: mode collapse; above: noise)"),
    "parcel_share": ((0.10, 0.90), "ours: |regional bias| of the mean AFD under 10 % in at least 90 % of the AAL parcels "
                                   "outside the cerebellum (paper: under 5 % there, up to 12 % in the cerebellum)"),
    "efficiency_test": (0.05, "paper: Mann-Whitney U test of global efficiency, synthetic against validation (its p = "
                              "3.3 x 10^-7 with 1000 subjects per set); ours: no detectable difference, p > 0.05"),
    "mantel": (0.8, "paper: Mantel r of connectomes between sets similar to within the validation set; ours: between "
                    "sets at least 0.8 x within the reference set"),
    "mmd": (0.05, "ours: kernel MMD two-sample permutation test of synthetic against reference, p > 0.05 (no detectable "
                  "difference between the sets)"),
    "every_tract": ((0.8, (0.85, 1.15)), "ours: for every tract, synthetic-reference Dice at least 0.8 x reference-reference "
                                         "Dice and volume ratio 0.85 to 1.15 (paper: ratio 0.92 +- 0.04)"),
    "bias_cerebellum": ((0.12, 0.45), "paper: regional bias up to 12 % (mean) and 45 % (sd) in the cerebellum"),
    "bias_elsewhere": ((0.05, 0.20), "paper: regional bias under 5 % (mean) and 20 % (sd) outside the cerebellum"),
    "efficiency": (0.05, "paper: synthetic global efficiency (6.47 +- 0.16) x 10^-4 against (6.59 +- 0.22) x 10^-4, "
                         "2 % apart; ours: within 5 %"),
    "volume_ratio": ((0.84, 1.0), "paper: synthetic tracts 8 +- 4 % smaller, a ratio 0.92 +- 2 sd"),
    "dice": (0.8, "paper: synthetic-validation tract Dice similar to validation-validation; ours: at least 0.8 x"),
    "memorisation": (0, "ours: no synthetic subject closer to a training subject than every held-out subject is"),
    "registration": (0.5, "ours: correlation of the subject's AFD with the registered template of at least 0.5 for "
                          "every subject (on the phantom, registration raises it from about 0.5 to 0.9)"),
    "truth_tracts": (0.6, "phantom ground truth: probabilistic Dice of every reference tract with its known bundle of at "
                           "least 0.6, mean over reference subjects (issue 12; on the demo grid, 56 x 64 x 56 at 3.125 mm, "
                           "with 1000 streamlines per tract every tract's mean is 0.66 or more: "
                           "benchmarks/phantom_tract_recovery.py)"),
    "truth_tracts_deterministic": (0.25, "phantom ground truth: deterministic (FACT) Dice of every reference tract with "
                                         "its known bundle of at least 0.25 (deterministic streamlines fill less of a "
                                         "bundle than probabilistic ones)"),
    "truth_atlas": (0.7, "phantom ground truth: AAL Dice of the registered atlas with the known labels of at least 0.7"),
}


def check(name: str, target: str, value: str, status: str, reason: str = "") -> dict:
    """One verdict row: what is checked, its target (with the source), the value found, a status of
    :data:`STATUSES` and, for a failure, why."""
    return {"check": name, "target": target, "value": value, "status": status, "reason": reason}


def _mean(stats: dict | None) -> float | None:
    return None if not stats or not stats.get("n") else stats.get("mean")


def _fod_checks(fod: dict) -> Iterable[dict]:
    limit, source = TARGETS["negative_l0"]
    neg = fod["negative_l0_fraction"]
    syn, ref = _mean(neg.get("synthetic")), _mean(neg.get("reference"))
    where = neg.get("region", "the whole grid")
    name = f"negative l = 0 voxels in {where}"
    if syn is None:
        yield check(name, source, "n/a", "n/a")
    else:
        value = f"synthetic {syn:.2%}, reference " + ("n/a" if ref is None else f"{ref:.2%}")
        yield check(name, source, value, "pass" if syn <= limit else "fail",
                     "" if syn <= limit else f"{syn:.1%} of brain voxels have a negative l = 0 (an FOD cannot be "
                                             "negative on average): the generator's output is not a valid FOD there")
    (low, high), source = TARGETS["diversity"]
    sq = fod["squared_differences"]
    syn, ref = _mean(sq.get("synthetic")), _mean(sq.get("reference"))
    if syn is None or not ref:
        yield check("diversity: within-set squared differences, synthetic / reference", source, "n/a", "n/a",
                     "needs at least two subjects in each set")
    else:
        ratio = syn / ref
        ok = low <= ratio <= high
        reason = "" if ok else (f"synthetic subjects differ from each other {ratio:.2f} x as much as real ones: "
                                + ("too alike (mode collapse)" if ratio < low else "more than real subjects (noise)"))
        yield check("diversity: within-set squared differences, synthetic / reference", source, f"{ratio:.2f}",
                     "pass" if ok else "fail", reason)
    for part, key in (("cerebellum", "bias_cerebellum"), ("elsewhere", "bias_elsewhere")):
        (lim_mean, lim_sd), source = TARGETS[key]
        bias = fod["regional_bias"][part]
        worst_mean, worst_sd = bias["mean_difference"].get("max"), bias["sd_difference"].get("max")
        name = f"regional bias of AFD mean / sd per AAL parcel, largest, {part}"
        if worst_mean is None or worst_sd is None:
            yield check(name, source, "n/a", "n/a", "no parcel with data")
            continue
        fails = [f"{label} {value:.2f} > {limit:.2f}" for label, value, limit in
                 (("mean", worst_mean, lim_mean), ("sd", worst_sd, lim_sd)) if value > limit]
        cerebellar = [("Cerebelum" in p["parcel"] or "Vermis" in p["parcel"]) == (part == "cerebellum")
                      for p in fod["regional_bias"].get("largest", [])]
        largest = [p["parcel"] for p, mine in zip(fod["regional_bias"].get("largest", []), cerebellar) if mine][:1]
        reason = ("; ".join(fails) + (f" (largest mean difference in {largest[0]})" if largest else "")
                  + "; 1.0 means the parcel is empty in one set") if fails else ""
        yield check(name, source, f"{worst_mean:.2f} / {worst_sd:.2f}", "fail" if fails else "pass", reason)


def _target_checks(metrics: dict) -> Iterable[dict]:
    """Checks of our stated targets beyond the paper's figures: parcel share, efficiency test, Mantel, MMD, every tract."""
    (limit, share), source = TARGETS["parcel_share"]
    bias = metrics["fod"]["regional_bias"]
    names, diffs = bias.get("parcels", []), bias.get("relative_difference_mean", [])
    outside = [abs(d) for n, d in zip(names, diffs) if "Cerebelum" not in n and "Vermis" not in n and d is not None
               and d == d]  # NaN: the parcel is empty in both sets
    name = f"AAL parcels outside the cerebellum with |mean AFD bias| under {limit:.0%}"
    if outside:
        got = sum(d < limit for d in outside) / len(outside)
        yield check(name, source, f"{got:.0%} of {len(outside)}", "pass" if got >= share else "fail",
                     "" if got >= share else f"{got:.0%} of the parcels are within {limit:.0%}, short of {share:.0%}")
    else:
        yield check(name, source, "n/a", "n/a", "no parcel with data")
    for backend, connectome in metrics.get("connectomes", {}).items():
        limit, source = TARGETS["efficiency_test"]
        p = connectome["global_efficiency"].get("mann_whitney", {}).get("p")
        name = f"global efficiency, Mann-Whitney p ({backend})"
        if p is None or p != p:
            yield check(name, source, "n/a", "n/a")
        else:
            yield check(name, source, f"{p:.3g}", "pass" if p > limit else "fail",
                         "" if p > limit else "the synthetic set's global efficiencies differ from the reference set's")
        limit, source = TARGETS["mantel"]
        between, within = _mean(connectome["mantel_r"].get("between")), _mean(connectome["mantel_r"].get("reference"))
        name = f"Mantel r between sets / within reference ({backend})"
        if between is None or not within:
            yield check(name, source, "n/a", "n/a", "needs two reference subjects")
        else:
            ok = between >= limit * within
            yield check(name, source, f"{between:.2f} / {within:.2f}", "pass" if ok else "fail",
                         "" if ok else f"synthetic connectomes agree with real ones {between / within:.2f} x as well as "
                                       "real ones agree with each other")
    limit, source = TARGETS["mmd"]
    p = metrics.get("generative", {}).get("mmd", {}).get("p")
    if p is None or p != p:
        yield check("MMD two-sample test, p", source, "n/a", "n/a")
    else:
        yield check("MMD two-sample test, p", source, f"{p:.3g}", "pass" if p > limit else "fail",
                     "" if p > limit else "the synthetic and reference sets are distinguishable")
    (dice_limit, (low, high)), source = TARGETS["every_tract"]
    for backend, tracts in metrics.get("tracts", {}).items():
        for algorithm, section in tracts.items():
            good, bad = [], []
            for tract in (t for t in section if t != "volume_ratio"):
                between = _mean(section[tract]["dice"].get("between"))
                within = _mean(section[tract]["dice"].get("reference"))
                ratio = section[tract]["volume_mm3"].get("ratio_synthetic_to_reference")
                if between is None or not within or ratio is None:
                    continue
                ok = between >= dice_limit * within and low <= ratio <= high
                (good if ok else bad).append(f"{tract} (Dice {between / within:.2f} x, volume {ratio:.2f})")
            name = f"every tract: Dice and volume within target ({backend}, {algorithm})"
            if not good and not bad:
                yield check(name, source, "n/a", "n/a", "no tract found in two reference subjects")
            else:
                yield check(name, source, f"{len(good)} of {len(good) + len(bad)}", "fail" if bad else "pass",
                             ("missed by " + ", ".join(bad)) if bad else "")


def _registration_checks(registration: dict) -> Iterable[dict]:
    threshold, source = TARGETS["registration"]
    low = sorted((key, meta.get("quality", {}).get("correlation")) for key, meta in registration.get("subjects", {}).items()
                 if meta.get("quality", {}).get("correlation") is not None and meta["quality"]["correlation"] < threshold)
    values = [meta.get("quality", {}).get("correlation") for meta in registration.get("subjects", {}).values()]
    values = [v for v in values if v is not None]
    value = f"lowest {min(values):.2f}" if values else "n/a"
    yield check("atlas registration (correlation after registration)", source, value,
                 "pipeline" if low else ("pass" if values else "n/a"),
                 ("registration below the threshold for " + ", ".join(f"{k} ({v:.2f})" for k, v in low)
                  + ": AAL parcels and tract regions may be misplaced, so connectomes, tracts and regional bias of these "
                    "subjects are unreliable") if low else "")
    limit, source = TARGETS["truth_atlas"]
    truth = _mean(registration.get("reference", {}).get("truth_aal_dice"))
    if truth is not None:
        yield check("atlas registration against the phantom's known AAL labels (reference)", source, f"{truth:.2f}",
                     "pass" if truth >= limit else "pipeline",
                     "" if truth >= limit else "the registered atlas misses the known labels: a pipeline problem")


def _tract_checks(backend: str, tracts: dict, efficiency: dict) -> Iterable[dict]:
    limit, source = TARGETS["efficiency"]
    syn, ref = _mean(efficiency.get("synthetic")), _mean(efficiency.get("reference"))
    if syn is None or not ref:
        yield check(f"global efficiency, synthetic / reference ({backend})", source, "n/a", "n/a")
    else:
        ratio = syn / ref
        ok = abs(ratio - 1) <= limit
        yield check(f"global efficiency, synthetic / reference ({backend})", source, f"{ratio:.3f}", "pass" if ok else "fail",
                     "" if ok else f"synthetic connectomes are {abs(ratio - 1):.0%} "
                                   f"{'less' if ratio < 1 else 'more'} efficient than real ones")
    for algorithm, section in tracts.items():
        names = [t for t in section if t != "volume_ratio"]
        missing = [t for t in names if not (_mean(section[t]["streamlines"].get("reference")) or 0) > 0]
        found = [t for t in names if t not in missing]
        label = f"({backend}, {algorithm})"
        if missing:
            yield check(f"tracts found in the reference subjects {label}", "every tract in at least one reference subject",
                         f"{len(found)} of {len(names)}", "pipeline",
                         f"{', '.join(missing)} found in no reference subject: the tract regions or tracking settings do not "
                         "fit these data, so these tracts say nothing about the synthetic subjects (left out below)")
        (low, high), source = TARGETS["volume_ratio"]
        ratios = [section[t]["volume_mm3"].get("ratio_synthetic_to_reference") for t in found]
        ratios = [r for r in ratios if r is not None]
        if ratios:
            ratio = sum(ratios) / len(ratios)
            ok = low <= ratio <= high
            yield check(f"tract volume, synthetic / reference, mean over found tracts {label}", source, f"{ratio:.2f}",
                         "pass" if ok else "fail",
                         "" if ok else f"synthetic tracts are {ratio:.2f} x the size of real ones")
        limit, source = TARGETS["dice"]
        between = [_mean(section[t]["dice"].get("between")) for t in found]
        within = [_mean(section[t]["dice"].get("reference")) for t in found]
        pairs = [(b, w) for b, w in zip(between, within) if b is not None and w]
        if pairs:
            b, w = (sum(x) / len(pairs) for x in zip(*pairs))
            ok = b >= limit * w
            yield check(f"tract Dice synthetic-reference / reference-reference {label}", source, f"{b:.2f} / {w:.2f}",
                         "pass" if ok else "fail",
                         "" if ok else f"synthetic tracts overlap real ones {b / w:.2f} x as well as real ones overlap "
                                       "each other: their shapes or positions are off")
        else:
            yield check(f"tract Dice synthetic-reference / reference-reference {label}", source, "n/a", "n/a",
                         "needs two reference subjects with the tract")
        limit, source = TARGETS["truth_tracts" if algorithm == "probabilistic" else "truth_tracts_deterministic"]
        truth = {t: _mean(section[t].get("truth_dice", {}).get("reference")) for t in names}
        truth = {t: v for t, v in truth.items() if v is not None}
        if truth:
            bad = sorted(t for t, v in truth.items() if v < limit)
            yield check(f"reference tracts against the phantom's known bundles {label}", source,
                         f"lowest {min(truth.values()):.2f}", "pipeline" if bad else "pass",
                         f"{', '.join(bad)}: tractography does not recover the known bundle in real subjects" if bad else "")


def verdict(metrics: dict) -> dict:
    """The checks of ``metrics`` (the dict written to ``metrics.json``) and their summary.

    Returns:
        ``{"checks": [{check, target, value, status, reason}], "counts": {status: n}, "summary": str}``; status is
        one of :data:`STATUSES`.
    """
    checks = list(_fod_checks(metrics["fod"]))
    checks += list(_registration_checks(metrics.get("registration", {})))
    for backend, tracts in metrics.get("tracts", {}).items():
        checks += list(_tract_checks(backend, tracts, metrics["connectomes"][backend]["global_efficiency"]))
    checks += list(_target_checks(metrics))
    limit, source = TARGETS["memorisation"]
    memorisation = metrics.get("generative", {}).get("memorisation")
    if memorisation is None:
        checks.append(check("memorisation", source, "n/a", "n/a", "no training set given"))
    else:
        flagged = memorisation.get("flagged", [])
        checks.append(check("memorisation: synthetic subjects flagged as copies of training subjects", source,
                             str(len(flagged)), "pass" if len(flagged) <= limit else "fail",
                             f"{', '.join(flagged)} closer to a training subject than any held-out real subject" if flagged else ""))
    for f in metrics.get("failed", []):
        checks.append(check(f"analysis of {f['set']}/{f['subject']}", "every subject analysed", "failed", "pipeline",
                             f["error"]))
    return summarise(checks, pipeline=lambda n: f"{n} pipeline failure(s): fix those first; some numbers below are not "
                                                 "evidence either way.",
                     fail="The synthetic subjects miss the targets of the checks marked fail.",
                     ok="The synthetic subjects meet every target checked.")


def summarise(checks: list[dict], pipeline, fail: str, ok: str) -> dict:
    """``{"checks", "counts", "summary"}`` of a list of checks: the counts per status and one line, headed by
    ``pipeline(n)`` when n checks are pipeline failures, else ``fail`` or ``ok`` (the FOD and DeepTaskGen verdicts)."""
    counts = {s: sum(c["status"] == s for c in checks) for s in STATUSES}
    head = pipeline(counts["pipeline"]) if counts["pipeline"] else (fail if counts["fail"] else ok)
    summary = f"{counts['pass']} pass, {counts['fail']} fail, {counts['pipeline']} pipeline failure(s), {counts['n/a']} n/a. {head}"
    return {"checks": checks, "counts": counts, "summary": summary}
