"""The DeepTaskGen evaluation as the FOD evaluation writes it: ``metrics.json``, ``figures/*.png``, ``report.html``.

:func:`write_evaluation` (the bundle's ``evaluate`` run) measures the predictions (:func:`.evaluation.evaluate_cohort`),
judges them (:func:`taskgen_verdict`: each check against a stated target with its source, as
:mod:`monai_fodgan.evaluation.verdict`), draws the figures (:mod:`.figures`) and writes one self-contained page with
the shared report machinery (:mod:`monai_fodgan.evaluation.report`): the verdict first, then the key numbers beside
the paper's, then one section per analysis.

The paper (Serin et al. 2025) reports these measures on HCP (958 subjects, 47 contrasts) in figures rather than as
single numbers; its column states what it found, qualitatively. Its diagonality index is normalised by the mean
diagonal; ours is not (both are in ``metrics.json``: ``diagonality`` and ``diagonality_normalised``).
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from monai_fodgan.evaluation.report import (
    fmt,
    html_figure,
    html_table,
    verdict_html,
    write_page,
)
from monai_fodgan.evaluation.verdict import check, summarise
from monai_fodgan.io import save_json
from monai_fodgan.taskgen.evaluation import evaluate_cohort
from monai_fodgan.taskgen.figures import (
    METHODS,
    plot_baselines,
    plot_dice_curves,
    plot_matrices,
    plot_per_contrast,
    plot_phenotype,
)

__all__ = ["TARGETS", "taskgen_verdict", "write_evaluation", "write_taskgen_report"]

#: Thresholds, each with its source (shown in the report next to the check).
TARGETS = {
    "beats_baselines": (None, "issue 14 / paper: the model beats the group-average and Tavor baselines (paper Fig. 1c: "
                              "higher reconstruction r and diagonality than group-averaged maps and a linear model)"),
    "top1": ((3.0, 0.5), "ours: top-1 identification at least 3 x chance and at least 0.5 (the paper shows the "
                         "subject x subject matrices' diagonality; it reports no accuracy)"),
    "phenotype": (0.10, "issue 14: phenotype R^2 from predicted maps within 10% of that from actual maps (paper: "
                        "'comparable or superior predictive performance of synthetic maps relative to actual maps')"),
}


def taskgen_verdict(metrics: dict) -> dict:
    """The checks of an evaluation's numbers: ``{"checks", "counts", "summary"}`` as the FOD verdict's."""
    checks = []
    source = TARGETS["beats_baselines"][1]
    model = metrics["model"]["mean"]
    for key, label in (("pearson_r", "mean Pearson r"), ("diagonality", "diagonality index")):
        base = {m: metrics[m]["mean"][key] for m in ("group_average", "tavor")}
        value = f"model {model[key]:.4f}; group average {base['group_average']:.4f}; Tavor {base['tavor']:.4f}"
        beaten = [METHODS[m][0] for m, v in base.items() if model[key] <= v]
        checks.append(check(f"{label}: model above both baselines", source, value, "fail" if beaten else "pass",
                             f"not above {', '.join(beaten)}" if beaten else ""))
    (times, floor), source = TARGETS["top1"]
    chance, top1 = metrics["model"]["chance_top1"], model["top1"]
    ok = top1 >= max(times * chance, floor)
    checks.append(check("top-1 identification of held-out subjects", source,
                         f"{top1:.3f} ({top1 / chance:.1f} x chance {chance:.3f})", "pass" if ok else "fail",
                         "" if ok else f"predictions identify their own subject in {top1:.0%} of cases"))
    limit, source = TARGETS["phenotype"]
    p = metrics.get("phenotype_r2")
    name = "phenotype R^2: predicted maps within 10% of actual maps"
    if p is None:
        checks.append(check(name, source, "n/a", "n/a", "no participants table given"))
    else:
        pred, actual = p["predicted_maps"], p["actual_maps"]
        value = f"predicted {pred:.3f}, actual {actual:.3f}, rest connectome {p['rest_connectome']:.3f}"
        if actual <= 0:
            checks.append(check(name, source, value, "pipeline",
                                 f"the phenotype is not predictable from the actual maps of these {len(p['target'])} "
                                 "subjects (R^2 <= 0): too few held-out subjects for the comparison"))
        else:
            gap = (actual - pred) / actual
            ok = gap <= limit
            checks.append(check(name, source, value + f" ({-gap:+.1%})", "pass" if ok else "fail",
                                 "" if ok else f"predicted maps explain {gap:.0%} less phenotype variance than actual maps"))
    return summarise(checks, pipeline=lambda n: f"{n} check(s) without evidence on these data.",
                     fail="The predictions miss the targets of the checks marked fail.",
                     ok="The predictions meet every target checked.")


def _key_numbers(m: dict) -> str:
    rows = []
    paper = {"pearson_r": "DeepTaskGen above group average and linear model for most contrasts",
             "diagonality": "DeepTaskGen above the linear model; group average 0 by construction",
             "top1": "not reported", "dice_auc": "DeepTaskGen above both (Supplementary)"}
    for key, label in (("pearson_r", "mean Pearson r, predicted vs actual (grey matter)"),
                       ("diagonality", "diagonality index (mean diagonal - mean off-diagonal)"),
                       ("top1", "top-1 identification"), ("dice_auc", "Dice-AUC, top 5-50% voxels")):
        rows.append([html.escape(label), *[fmt(m[k]["mean"][key], 4) for k in METHODS], html.escape(paper[key])])
    rows.append(["diagonality index normalised by the diagonal (the paper's form)",
                 *[fmt(m[k]["mean"]["diagonality_normalised"], 4) for k in METHODS], "as above"])
    headers = ["measure", *[METHODS[k][0] for k in METHODS], "paper (Serin et al. 2025, HCP)"]
    table = html_table(headers, rows)
    p = m.get("phenotype_r2")
    if p:
        table += html_table(["phenotype R^2 (ridge, out of fold)", "predicted maps", "actual maps", "rest connectome",
                             "paper"], [[html.escape(p["phenotype"]), fmt(p["predicted_maps"]), fmt(p["actual_maps"]),
                                         fmt(p["rest_connectome"]),
                                         "synthetic maps comparable or superior to actual maps and rest connectomes"]])
    return table


_SECTIONS = [
    ("reconstruction", "Reconstruction per contrast",
     "Pearson r between each held-out subject's predicted and actual map inside the grey-matter mask, and the "
     "diagonality index of each contrast's subject x subject matrix, for the model and both baselines."),
    ("identification", "Individual information: identification",
     "Row i of a matrix correlates subject i's prediction with every subject's actual map. A bright diagonal means "
     "predictions resemble their own subject more than others: the individual variation the maps are used for. The "
     "group average predicts everyone alike (diagonality 0)."),
    ("overlap", "Overlap of the most activated voxels", "Dice of the top-f% voxels of predicted and actual maps."),
    ("baselines", "Model and baselines side by side", "The four summary measures, means over contrasts."),
    ("phenotype", "Phenotype prediction",
     "Ridge regression with cross-validation from the predicted maps, the actual maps and the K x K rest connectome."),
]


def write_taskgen_report(metrics: dict, figures: list[dict], path: str | Path) -> Path:
    """The HTML page of a DeepTaskGen evaluation (``metrics`` with its ``verdict``; figures as the FOD report's)."""
    body = [f"<h1>Evaluation of DeepTaskGen predictions</h1><p>{len(metrics['subjects'])} held-out subjects, "
            f"{metrics['contrasts']} contrasts, {metrics['gm_voxels']} grey-matter voxels; {metrics['seconds']} s. "
            "All numbers are in <code>metrics.json</code> beside this page.</p>",
            '<h2 id="section-verdict">Verdict</h2>', verdict_html(metrics["verdict"]),
            "<h2>Key numbers</h2>", _key_numbers(metrics)]
    for key, title, intro in _SECTIONS:
        body.append(f'<h2 id="section-{key}">{html.escape(title)}</h2><p>{html.escape(intro)}</p>')
        body += [html_figure(f) for f in figures if f["section"] == key]
    notes = ["The diagonality index here is the mean diagonal minus the mean off-diagonal correlation; the paper divides "
             "it by the mean diagonal (both are in metrics.json).",
             "Tavor regression is fitted on the whole grey-matter mask (one parcel), as the authors' code does."]
    if "phenotype_r2" not in metrics:
        notes.append("No participants table was given: phenotype prediction was not run.")
    body.append('<h2 id="section-notes">Notes on this run</h2><div class="note"><ul>'
                + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul></div>")
    return write_page("DeepTaskGen evaluation", body, path)


def write_evaluation(out: str | Path, prepared: str | Path, predictions: str | Path, **kwargs: object) -> dict:
    """Evaluate, judge, draw and write ``out/{metrics.json, figures/*.png, report.html}``; returns the metrics.

    ``kwargs`` go to :func:`.evaluation.evaluate_cohort` (``split``, ``participants``, ``phenotype``, ``folds``,
    ``seed``)."""
    start = time.perf_counter()
    out = Path(out)
    metrics = evaluate_cohort(prepared, predictions, **kwargs)
    metrics["verdict"] = taskgen_verdict(metrics)
    metrics["config"] = {"prepared": str(Path(prepared).resolve()), "predictions": str(Path(predictions).resolve()),
                         **{k: (str(v) if isinstance(v, Path) else v) for k, v in kwargs.items()}}
    fig_dir = out / "figures"
    specs = [("per_contrast", "reconstruction", "Per-contrast r and diagonality", plot_per_contrast,
              "Bars per contrast: the model (red) against the group average (grey) and Tavor regression (blue)."),
             ("matrices", "identification", "Subject x subject correlation matrices", plot_matrices,
              "Predicted (rows) vs actual (columns) maps of the held-out subjects, mean over contrasts."),
             ("dice_curves", "overlap", "Dice-AUC curves", plot_dice_curves,
              "Dice of the top 5-50% voxels; the legend gives the normalised area under each curve."),
             ("baselines", "baselines", "Model vs baselines", plot_baselines,
              "Means over contrasts; the dashed line is top-1 chance (1 / subjects).")]
    if "phenotype_r2" in metrics:
        specs.append(("phenotype", "phenotype", "Phenotype prediction", plot_phenotype,
                      "Left: out-of-fold R^2; right: out-of-fold predictions against the true phenotype."))
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    figures = [{"key": key, "section": section, "title": title, "caption": caption,
                "path": str(plot(metrics, fig_dir / f"{key}.png"))} for key, section, title, plot, caption in specs]
    save_json(metrics, out / "metrics.json")
    write_taskgen_report(metrics, figures, out / "report.html")
    return metrics

