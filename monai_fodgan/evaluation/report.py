"""The evaluation report: one self-contained HTML page (figures embedded as PNG data URIs, no external files).

The page opens with the verdict (:mod:`.verdict`: every check against its stated target, pass or fail with the
reason, pipeline failures apart), then a table of the key numbers next to the paper's, then one section per analysis
with its figures and a short explanation of how to read them, and ends with notes on what differs from the paper's
protocol in this run. Every number comes from ``metrics.json``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from monai_fodgan.evaluation.verdict import verdict
from monai_fodgan.io import atomic_output

__all__ = ["write_report", "html_table", "html_figure", "verdict_html", "write_page", "fmt"]

_CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; } .note { background: #fff8e0; padding: .5em 1em; }
td.pass { background: #e3f4e3; } td.fail { background: #fbe0e0; } td.pipeline { background: #ffe9c7; }
td.na { color: #777; } p.summary { font-size: 1.1em; font-weight: bold; }
"""


def fmt(value: object, digits: int = 3) -> str:
    """A number for the page: ``digits`` significant digits, scientific outside [1e-3, 1e4), "n/a" for None."""
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def _ms(stats: dict | None) -> str:
    """"mean +- sd (n)" of a summary."""
    if not stats or not stats.get("n"):
        return "n/a"
    return f"{_fmt(stats.get('mean'))} &plusmn; {_fmt(stats.get('sd'))} (n={stats['n']})"


def _bias(part: dict) -> str:
    mean, sd = part["mean_difference"], part["sd_difference"]
    return f"{_fmt(mean.get('max'))} ({_fmt(mean.get('median'))}) / {_fmt(sd.get('max'))} ({_fmt(sd.get('median'))})"


_fmt = fmt


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    """An HTML table: ``headers`` escaped, cells inserted as given (already HTML)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_table = html_table


def html_figure(entry: dict) -> str:
    """A figure ``{key, path, title, caption}`` embedded as a PNG data URI with its caption."""
    data = base64.b64encode(Path(entry["path"]).read_bytes()).decode()
    title = html.escape(entry["title"])
    return (f'<figure id="{html.escape(entry["key"])}"><img src="data:image/png;base64,{data}" alt="{title}">'
            f"<figcaption><b>{title}.</b> {html.escape(entry['caption'])}</figcaption></figure>")


def _key_numbers(m: dict) -> str:
    fod = m["fod"]
    rows = [
        ["subjects", f"{len(m['sets']['synthetic'])} synthetic, {len(m['sets']['reference'])} reference"
         + (f", {len(m['sets']['training'])} training" if "training" in m["sets"] else ""), "100 synthetic, 100 validation"],
        ["pairwise squared differences within synthetic", _ms(fod["squared_differences"]["synthetic"]),
         html.escape(fod["squared_differences"]["paper"]["synthetic"])],
        ["pairwise squared differences within reference", _ms(fod["squared_differences"]["reference"]),
         html.escape(fod["squared_differences"]["paper"]["reference"])],
        [f"fraction of brain-mask voxels with negative l = 0, synthetic / reference "
         f"({fod['negative_l0_fraction'].get('brain_voxels', 'n/a')} brain voxels: inside at least half of the reference brains)",
         f"{_fmt(fod['negative_l0_fraction']['synthetic'].get('mean'))} / {_fmt(fod['negative_l0_fraction']['reference'].get('mean'))}",
         "some in synthetic, none in validation"],
        ["regional bias, relative difference of mean / sd AFD per parcel, largest (median), cerebellum",
         _bias(fod["regional_bias"]["cerebellum"]), "up to 0.12 / 0.45"],
        ["regional bias, relative difference of mean / sd AFD per parcel, largest (median), elsewhere",
         _bias(fod["regional_bias"]["elsewhere"]), "&lt; 0.05 / &lt; 0.20"],
    ]
    for backend, c in m["connectomes"].items():
        ge = c["global_efficiency"]
        rows.append([f"global efficiency, synthetic / reference ({backend}, {html.escape(c['weights'])})",
                     f"{_ms(ge['synthetic'])} / {_ms(ge['reference'])}", html.escape(ge["paper"]["synthetic"] + " / " + ge["paper"]["reference"])])
        rows.append([f"Mann-Whitney p of global efficiency ({backend})", _fmt(ge["mann_whitney"].get("p")), ge["paper"]["mann_whitney_p"]])
        mr = c["mantel_r"]
        rows.append([f"Mantel r within synthetic / within reference / between ({backend})",
                     f"{_fmt(mr['synthetic'].get('mean'))} / {_fmt(mr['reference'].get('mean'))} / {_fmt(mr['between'].get('mean'))}",
                     "similar synthetic and between distributions; reference narrower and higher"])
        for algorithm, t in m["tracts"][backend].items():
            between = [t[k]["dice"]["between"].get("mean") for k in t if k != "volume_ratio" and t[k]["dice"]["between"].get("n")]
            rows.append([f"tract volume ratio synthetic / reference ({backend}, {algorithm})", _ms(t["volume_ratio"]), "0.92 &plusmn; 0.04"])
            rows.append([f"mean synthetic-reference tract Dice ({backend}, {algorithm})",
                         _fmt(sum(between) / len(between)) if between else "n/a", "similar to validation-validation"])
    g = m["generative"]
    rows.append(["MS-SSIM within synthetic / within reference (AFD maps)",
                 f"{_fmt(g['ms_ssim']['synthetic'].get('mean'))} / {_fmt(g['ms_ssim']['reference'].get('mean'))}", "not reported"])
    rows.append(["MMD&sup2; synthetic vs reference (permutation p)", f"{_fmt(g['mmd'].get('mmd2'))} (p = {_fmt(g['mmd'].get('p'))})", "not reported"])
    rows.append(["Fr&eacute;chet distance of regional AFD features", _fmt(g.get("frechet_regional_afd")), "not reported"])
    if "memorisation" in g:
        mem = g["memorisation"]
        rows.append(["nearest-training distance, synthetic / reference (median ratio)",
                     f"{_fmt(mem['synthetic_distance'].get('median'))} / {_fmt(mem['reference_distance'].get('median'))} "
                     f"({_fmt(mem.get('ratio_of_medians'))}); flagged: {len(mem['flagged'])}", "not reported"])
    return _table(["measure", "this run", "paper (Vellmer et al. 2025)"], rows)


_figure = html_figure


def _verdict(m: dict) -> str:
    """The verdict table of an FOD evaluation."""
    return verdict_html(m.get("verdict") or verdict(m))


def verdict_html(v: dict) -> str:
    """The verdict table: one row per check, its status cell coloured, the reason for every fail.

    ``v`` is ``{"checks": [{check, target, value, status, reason}], "summary"}`` (:func:`.verdict.verdict`)."""
    rows = "".join(
        f'<tr><td>{html.escape(c["check"])}</td><td>{html.escape(c["value"])}</td>'
        f'<td class="{"na" if c["status"] == "n/a" else c["status"]}">{html.escape(_STATUS[c["status"]])}</td>'
        f'<td>{html.escape(c["reason"])}</td><td>{html.escape(c["target"])}</td></tr>' for c in v["checks"])
    head = "".join(f"<th>{h}</th>" for h in ("check", "this run", "result", "reason", "target (source)"))
    return (f'<p class="summary">{html.escape(v["summary"])}</p>'
            f'<table id="verdict"><tr>{head}</tr>{rows}</table>')


_STATUS = {"pass": "pass", "fail": "FAIL", "pipeline": "PIPELINE FAILURE", "n/a": "n/a"}


def _notes(m: dict) -> str:
    cfg = m["config"]
    notes = [
        "Tracts are selected by inclusion and exclusion regions of the AAL-space atlas carried to each subject "
        "(monai_fodgan.evaluation.atlas), not by TractSeg as in the paper.",
        f"Whole-brain tractography used {cfg['streamlines']:,} streamlines per subject (paper: 5,000,000) and "
        f"{cfg['tract_streamlines']:,} per tract and algorithm.",
        f"Atlas: {html.escape(cfg['atlas'])}"
        + (f" (template {html.escape(str(cfg['template']))}, {'affine + SyN' if cfg['syn'] else 'affine'})" if cfg["atlas"] == "register" else "")
        + ".",
    ]
    if "dipy" in m["backends"]:
        notes.append("DIPY connectomes count streamlines: DIPY has no SIFT2, so they are not SIFT2-weighted as the "
                     "paper's (and the MRtrix3 backend's) are.")
    if m["grid"]["shape"] != [128, 128, 64]:
        notes.append(f"The images are on a {' x '.join(map(str, m['grid']['shape']))} grid, not the paper's 128 x 128 x 64: "
                     "sums of squared differences scale with the number of voxels, and tractography on coarse voxels is "
                     "coarse; compare numbers with the paper's only in kind.")
    if m["failed"]:
        notes.append("Subjects that could not be analysed (left out): " + "; ".join(
            html.escape(f"{f['set']}/{f['subject']}: {f['error']}") for f in m["failed"]))
    return "<ul>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>"


_SECTIONS = [
    ("fod", "FOD images and their voxel statistics",
     "Synthetic subjects should look like real ones slice by slice, have the same distribution of every SH coefficient, "
     "vary between subjects about as much as real subjects do, and show no regional bias."),
    ("registration", "Atlas in subject space",
     "AAL (116 regions) and the tract regions are carried to every subject by registering an MNI template to its AFD map; "
     "the correlation between the subject and the registered template measures how well that worked."),
    ("generative", "Diversity, distribution distance and memorisation",
     "Measures beyond the paper that users of 3D generative models expect: MS-SSIM diversity, MMD between the sets with "
     "a permutation test, the Frechet distance of regional AFD features, and each synthetic subject's distance to its "
     "nearest training subject."),
]


def write_report(metrics: dict, figures: list[dict], path: str | Path) -> Path:
    """Write the HTML report for ``metrics`` with ``figures`` ({key, path, title, caption, section})."""
    sections = list(_SECTIONS)
    for backend in metrics["connectomes"]:
        weights = metrics["connectomes"][backend]["weights"]
        sections.insert(-1, (f"connectomes_{backend}", f"Connectomes ({backend})",
                             f"Whole-brain probabilistic tractography mapped to AAL connectomes ({weights}), normalised to "
                             "sum 2; compared by weighted global efficiency and Mantel correlations."))
        sections.insert(-1, (f"tracts_{backend}", f"Fibre tracts ({backend})",
                             "The paper's tracts with deterministic and probabilistic tracking: Dice of 1 mm masks in the "
                             "three groups of pairs, volumes, and fibre density along the tracts."))
    registration = metrics["registration"]
    reg_rows = [[html.escape(g), _ms(registration[g]["correlation"]),
                 _ms(registration[g].get("truth_aal_dice")), _ms(registration[g].get("truth_aal_dice_without_registration"))]
                for g in ("synthetic", "reference")]
    extra = {"registration": _table(["set", "correlation after registration", "AAL Dice vs known labels (phantom)",
                                     "same without registration"], reg_rows)}
    for backend, t in metrics["tracts"].items():
        rows = []
        for algorithm, sec in t.items():
            for tract, entry in sec.items():
                if tract == "volume_ratio":
                    continue
                truth = entry.get("truth_dice", {}).get("reference")
                missing = not (entry["streamlines"]["reference"].get("mean") or 0) > 0
                label = f"{algorithm} {tract}" + (" (PIPELINE FAILURE: found in no reference subject)" if missing else "")
                rows.append([html.escape(label), _ms(entry["dice"]["synthetic"]), _ms(entry["dice"]["reference"]),
                             _ms(entry["dice"]["between"]), _fmt(entry["volume_mm3"]["ratio_synthetic_to_reference"]),
                             f"{_fmt(entry['streamlines']['synthetic'].get('mean'))} / {_fmt(entry['streamlines']['reference'].get('mean'))}",
                             _ms(truth) if truth else "n/a"])
        extra[f"tracts_{backend}"] = _table(["tract", "Dice synthetic", "Dice reference", "Dice between", "volume ratio",
                                             "streamlines syn / ref", "Dice vs ground truth (reference)"], rows)
    body = [f"<h1>Evaluation of synthetic FODs</h1><p>{len(metrics['sets']['synthetic'])} synthetic subjects against "
            f"{len(metrics['sets']['reference'])} reference subjects; tractography with {', '.join(metrics['backends'])}; "
            f"{metrics['seconds']} s. All numbers are in <code>metrics.json</code> beside this page.</p>",
            '<h2 id="section-verdict">Verdict</h2>', _verdict(metrics),
            "<h2>Key numbers</h2>", _key_numbers(metrics)]
    for key, title, intro in sections:
        body.append(f'<h2 id="section-{key}">{html.escape(title)}</h2><p>{html.escape(intro)}</p>')
        body.append(extra.get(key, ""))
        body += [_figure(f) for f in figures if f["section"] == key]
    body.append('<h2 id="section-notes">Notes on this run</h2><div class="note">' + _notes(metrics) + "</div>")
    return write_page("monai_fodgan evaluation", body, path)


def write_page(title: str, body: list[str], path: str | Path) -> Path:
    """Write one self-contained HTML page (the report's style) of the ``body`` parts, atomically."""
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
    with atomic_output(path) as tmp:
        tmp.write_text(page)
    return Path(path)
