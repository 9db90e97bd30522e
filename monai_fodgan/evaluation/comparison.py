"""Set-level comparison of synthetic and reference subjects: every number of ``metrics.json``.

Each function computes one section from the per-subject records of :func:`~.per_subject.analyse_subject`
(lists ordered like the sets) and returns JSON-ready values. Groups: "synthetic", "reference" (the real held-out
subjects; the paper's validation set) and "between" (synthetic-reference pairs), coloured red, blue and green in
the figures as in the paper.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from monai_fodgan.evaluation.atlas import aal_names
from monai_fodgan.evaluation.connectome import normalise_connectome
from monai_fodgan.evaluation.fod_statistics import pooled_parcel_stats, relative_difference
from monai_fodgan.evaluation.generative import frechet_distance, memorisation_flags, mmd_test, nearest_neighbours
from monai_fodgan.evaluation.network import global_efficiency, mann_whitney, mantel_test
from monai_fodgan.evaluation.tracts import pairwise_dice

__all__ = [
    "summary", "squared_difference_section", "negative_l0_section", "regional_bias_section", "registration_section",
    "connectome_section", "tract_section", "memorisation_section", "mmd_section", "frechet_section", "PAPER",
]

#: The paper's numbers (Vellmer et al. 2025, Results), shown next to ours.
PAPER = {
    "squared_differences": {"synthetic": "(18.4 +- 6.0) x 10^3", "reference": "(28.1 +- 4.5) x 10^3 (validation)"},
    "global_efficiency": {"synthetic": "(6.47 +- 0.16) x 10^-4", "reference": "(6.59 +- 0.22) x 10^-4 (validation)",
                          "mann_whitney_p": "3.3 x 10^-7"},
    "tract_volume_ratio": "synthetic tracts on average 8 +- 4 % smaller (ratio 0.92 +- 0.04)",
    "regional_bias": "up to 12 % (mean) and 45 % (sd) in the cerebellum; under 5 % and 20 % elsewhere",
}


def summary(values: Sequence[float] | np.ndarray, keep_values: bool = True) -> dict:
    """n, mean, sd, median, min, max (NaN-free values only) and, optionally, the values themselves."""
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = v[np.isfinite(v)]
    out: dict = {"n": int(finite.size)}
    if finite.size:
        out.update(mean=float(finite.mean()), sd=float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
                   median=float(np.median(finite)), min=float(finite.min()), max=float(finite.max()))
    if keep_values:
        out["values"] = v.tolist()
    return out


def _within(matrix: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(matrix.shape[0], k=1)
    return matrix[i, j]


def squared_difference_section(d2: np.ndarray, n_syn: int) -> dict:
    """Pairwise sums of squared differences within each set and between them; ``d2`` is the pooled (syn + ref)
    square matrix, synthetic first."""
    syn, ref = d2[:n_syn, :n_syn], d2[n_syn:, n_syn:]
    return {"synthetic": summary(_within(syn)), "reference": summary(_within(ref)),
            "between": summary(d2[:n_syn, n_syn:]), "paper": PAPER["squared_differences"]}


def negative_l0_section(negative: dict[str, dict[str, np.ndarray]], brain: np.ndarray) -> dict:
    """Fraction of brain voxels with a negative l = 0, per subject and set.

    Args:
        negative: group -> subject -> (X, Y, Z) bool map of negative l = 0 (:func:`~.fod_statistics.l0_maps`).
        brain: (X, Y, Z) bool brain mask on the common grid (:func:`~.fod_statistics.reference_brain_mask`).
    """
    n = int(brain.sum())
    out: dict = {"region": "the brain mask (voxels inside at least half of the reference brains)",
                 "brain_voxels": n, "grid_voxels": int(brain.size)}
    for group, maps in negative.items():
        values = {name: float((m & brain).sum() / n) if n else float("nan") for name, m in maps.items()}
        out[group] = summary(list(values.values())) | {"subjects": values}
    return out


def regional_bias_section(records: dict[str, list[dict]]) -> dict:
    """Eq. 5 per AAL parcel between the synthetic and reference sets' pooled AFD mean and sd."""
    names = aal_names()
    stats = {g: pooled_parcel_stats(np.stack([r["atlas"]["parcel_sums"] for r in recs])) for g, recs in records.items()}
    (syn_mean, syn_sd), (ref_mean, ref_sd) = stats["synthetic"], stats["reference"]
    d_mean, d_sd = relative_difference(syn_mean, ref_mean), relative_difference(syn_sd, ref_sd)
    labels = np.arange(1, len(d_mean) + 1)
    cerebellar = np.array(["Cerebelum" in names.get(int(k), "") or "Vermis" in names.get(int(k), "") for k in labels])

    def part(mask: np.ndarray) -> dict:
        return {"mean_difference": summary(d_mean[mask], keep_values=False),
                "sd_difference": summary(d_sd[mask], keep_values=False)}

    order = np.argsort(np.nan_to_num(d_mean, nan=-1))[::-1][:10]
    return {
        "parcels": [names.get(int(k), str(k)) for k in labels],
        "synthetic_mean": syn_mean.tolist(), "synthetic_sd": syn_sd.tolist(),
        "reference_mean": ref_mean.tolist(), "reference_sd": ref_sd.tolist(),
        "relative_difference_mean": d_mean.tolist(), "relative_difference_sd": d_sd.tolist(),
        "cerebellum": part(cerebellar), "elsewhere": part(~cerebellar),
        "largest": [{"parcel": names.get(int(labels[k]), str(labels[k])), "mean_difference": float(d_mean[k]),
                     "sd_difference": float(d_sd[k])} for k in order if np.isfinite(d_mean[k])],
        "paper": PAPER["regional_bias"],
    }


def registration_section(records: dict[str, list[dict]]) -> dict:
    out: dict = {"subjects": {}}
    for group, recs in records.items():
        for r in recs:
            out["subjects"][f"{group}/{r['subject'].name}"] = r["atlas"]["meta"]
        after = [r["atlas"]["meta"]["quality"].get("correlation", np.nan) for r in recs]
        out[group] = {"correlation": summary(after, keep_values=False)}
        truth = [r["atlas"]["meta"]["truth"] for r in recs if "truth" in r["atlas"]["meta"]]
        if truth:
            out[group]["truth_aal_dice"] = summary([t["aal_dice"] for t in truth], keep_values=False)
            out[group]["truth_aal_dice_without_registration"] = summary(
                [t["aal_dice_without_registration"] for t in truth], keep_values=False)
    return out


def connectome_section(records: dict[str, list[dict]], backend: str, permutations: int, seed: int) -> tuple[dict, dict]:
    """Normalised connectomes -> global efficiency (per subject, Mann-Whitney) and Mantel correlations.

    Returns:
        (metrics, {"matrices": {group: [(name, matrix)]}}) for the figures.
    """
    matrices = {g: [normalise_connectome(r["tracking"][backend]["connectome"]) for r in recs] for g, recs in records.items()}
    eff = {g: [global_efficiency(m) for m in ms] for g, ms in matrices.items()}
    out: dict = {"weights": records["synthetic"][0]["tracking"][backend]["meta"]["connectome"]["weights"],
                 "streamlines": {g: summary([r["tracking"][backend]["meta"]["connectome"]["streamlines"] for r in recs],
                                            keep_values=False) for g, recs in records.items()},
                 "global_efficiency": {g: summary(v) for g, v in eff.items()}}
    out["global_efficiency"]["mann_whitney"] = mann_whitney(eff["synthetic"], eff["reference"])
    out["global_efficiency"]["paper"] = PAPER["global_efficiency"]
    seeds = itertools.count(seed)  # one permutation seed per test, reproducible

    def mantel_pairs(a: list[np.ndarray], b: list[np.ndarray] | None) -> list[float]:
        pairs = [(x, y) for i, x in enumerate(a) for y in a[i + 1:]] if b is None else [(x, y) for x in a for y in b]
        return [mantel_test(x, y, permutations, next(seeds))[0] for x, y in pairs]

    syn, ref = matrices["synthetic"], matrices["reference"]
    out["mantel_r"] = {"synthetic": summary(mantel_pairs(syn, None)), "reference": summary(mantel_pairs(ref, None)),
                       "between": summary(mantel_pairs(syn, ref)), "permutations": permutations}
    names = {g: [r["subject"].name for r in recs] for g, recs in records.items()}
    return out, {"matrices": {g: list(zip(names[g], ms)) for g, ms in matrices.items()}, "efficiency": eff}


def _masks(result: dict, a: int, t: int, n_tracts: int) -> np.ndarray:
    k = a * n_tracts + t
    off = result["mask_offsets"]
    return result["mask_data"][off[k]:off[k + 1]]


def tract_section(records: dict[str, list[dict]], backend: str, algorithms: Sequence[str], tracts: Sequence[str]) -> dict:
    """Per algorithm and tract: Dice in the three groups, volumes and their ratio, streamline counts, along-tract
    AFD, and the Dice against ground truth where there is one."""
    out: dict = {}
    for a, algorithm in enumerate(algorithms):
        section: dict = {}
        ratios = []
        for t, tract in enumerate(tracts):
            res = {g: [r["tracking"][backend] for r in recs] for g, recs in records.items()}
            masks = {g: [_masks(x, a, t, len(tracts)) for x in rs] for g, rs in res.items()}
            vols = {g: [float(x["volumes"][a, t]) for x in rs] for g, rs in res.items()}
            counts = {g: [int(x["counts"][a, t]) for x in rs] for g, rs in res.items()}
            profiles = {g: np.stack([x["profiles"][a, t] for x in rs]) for g, rs in res.items()}
            mean_vol = {g: float(np.mean(v)) for g, v in vols.items()}
            ratio = mean_vol["synthetic"] / mean_vol["reference"] if mean_vol["reference"] > 0 else float("nan")
            ratios.append(ratio)
            entry = {
                "dice": {"synthetic": summary(pairwise_dice(masks["synthetic"])),
                         "reference": summary(pairwise_dice(masks["reference"])),
                         "between": summary(pairwise_dice(masks["synthetic"], masks["reference"]))},
                "volume_mm3": {g: summary(v) for g, v in vols.items()} | {"ratio_synthetic_to_reference": ratio},
                "streamlines": {g: summary(c) for g, c in counts.items()},
                "profile": {g: {"mean": np.nanmean(p, axis=0).tolist() if np.isfinite(p).any() else [],
                                "sd": np.nanstd(p, axis=0).tolist() if np.isfinite(p).any() else []}
                            for g, p in profiles.items()},
            }
            truth = {g: [float(x["truth_dice"][a, t]) for x in rs if np.isfinite(x["truth_dice"][a, t])] for g, rs in res.items()}
            if any(truth.values()):
                entry["truth_dice"] = {g: summary(v) for g, v in truth.items() if v}
            section[tract] = entry
        section["volume_ratio"] = summary(ratios, keep_values=False) | {"paper": PAPER["tract_volume_ratio"]}
        out[algorithm] = section
    return out


def mmd_section(d2: np.ndarray, n_syn: int, permutations: int, seed: int) -> dict:
    return mmd_test(d2, n_syn, permutations, seed)


def memorisation_section(d2_syn_train: np.ndarray, d2_ref_train: np.ndarray, syn_names: list[str],
                         ref_names: list[str], train_names: list[str]) -> dict:
    """Nearest training subject of every synthetic and every reference subject (Euclidean distances)."""
    syn_idx, syn_d = nearest_neighbours(d2_syn_train)
    ref_idx, ref_d = nearest_neighbours(d2_ref_train) if len(ref_names) else (np.zeros(0, int), np.zeros(0))
    copies, _, ratio = memorisation_flags(syn_d, ref_d)
    return {
        "synthetic": {n: {"nearest_training": train_names[i], "distance": float(d)} for n, i, d in zip(syn_names, syn_idx, syn_d)},
        "reference": {n: {"nearest_training": train_names[i], "distance": float(d)} for n, i, d in zip(ref_names, ref_idx, ref_d)},
        "synthetic_distance": summary(syn_d), "reference_distance": summary(ref_d),
        "ratio_of_medians": ratio,
        "flagged": [n for n, copy in zip(syn_names, copies) if copy], "flag_rule": "closer to a training subject than every held-out reference subject is",
    }


def frechet_section(records: dict[str, list[dict]]) -> dict:
    """Frechet distance between the sets' regional AFD features (mean AFD per AAL parcel, parcels present in all)."""
    feats = {}
    for g, recs in records.items():
        sums = np.stack([r["atlas"]["parcel_sums"] for r in recs])
        with np.errstate(invalid="ignore", divide="ignore"):
            feats[g] = sums[..., 1] / sums[..., 0]
    keep = np.all(np.isfinite(np.concatenate(list(feats.values()))), axis=0)
    return {"frechet_regional_afd": frechet_distance(feats["synthetic"][:, keep], feats["reference"][:, keep]),
            "features": int(keep.sum())}
