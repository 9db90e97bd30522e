"""Recipe ablation: train the bundle under each recipe choice for the same iterations and seeds, evaluate each
against the same held-out subjects, and write one table.

``python -m monai_fodgan.ablation --dataset demo_output/dataset --out ablation --iterations 300``

Each recipe (:data:`RECIPES`) is a set of ``train.json`` overrides (normalisation, augmentation, background; see
:mod:`monai_fodgan.data.recipe`); everything else (networks, schedule, data, seeds) is the same for all. Per recipe
and seed, in ``OUT/<recipe>/seed<k>/``: the bundle's training (``python -m monai.bundle run training``, from scratch),
its inference (``--num_samples``) and ``python -m monai_fodgan.evaluate`` against the dataset's validation subjects
(with the training subjects for the memorisation check, and the phantom's truth when ``--truth`` is given). The
evaluations share one cache (``OUT/evaluation_cache``), so the reference subjects are analysed once. Then
``OUT/ablation.json`` and ``OUT/ablation.md`` (and ``--docs FILE``): one row per recipe, the evaluation's verdict
checks as columns (value and pass/fail), averaged over seeds where numeric. A re-run skips the runs already
finished (their ``metrics.json`` exists).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from monai_fodgan.cli import HelpFormatter, shell_line

__all__ = ["RECIPES", "build_parser", "main", "markdown_table", "table_rows"]

#: Recipe name -> (train.json overrides, what it is). ``paper`` is the paper's recipe; the others change one choice
#: at a time from ``paper+mask``, and ``before`` is the recipe this package used before the ablation. Each states
#: every choice, so a change of train.json's defaults does not change what a recipe means.
RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "paper": ({"normalization_mode": "raw", "augmentation": "copies", "background": "none", "l0_output": "tanh"},
              "the paper: raw coefficients, five fixed copies, G's output as is"),
    "paper+mask": ({"normalization_mode": "raw", "augmentation": "copies", "background": "population_mask", "l0_output": "tanh"},
                   "the paper's recipe with the population brain mask on G's output"),
    "nonnegative_l0": ({"normalization_mode": "raw", "augmentation": "copies", "background": "population_mask",
                        "l0_output": "nonnegative"}, "the l = 0 channel output as |tanh|, never negative"),
    "global": ({"normalization_mode": "global", "normalization_quantile": 0.999, "augmentation": "copies",
                "background": "population_mask", "l0_output": "tanh"}, "one global scale (99.9th percentile of |c|)"),
    "per_band": ({"normalization_mode": "per_band", "normalization_quantile": 0.999, "augmentation": "copies",
                  "background": "population_mask", "l0_output": "tanh"}, "one scale per SH band (99.9th percentile of |c|)"),
    "random_rotation": ({"normalization_mode": "raw", "augmentation": "random", "rotation_prob": 0.5,
                         "rotation_axes": "single", "background": "population_mask", "l0_output": "tanh"},
                        "a fresh rotation about one axis for half of the samples instead of fixed copies"),
    "no_augmentation": ({"normalization_mode": "raw", "augmentation": "none", "background": "population_mask",
                         "l0_output": "tanh"},
                        "no rotation augmentation"),
    "before": ({"normalization_mode": "per_band", "normalization_quantile": 1.0, "augmentation": "random",
                "rotation_prob": 1.0, "rotation_axes": "single", "background": "none", "l0_output": "tanh"},
               "this package before the ablation: per-band maximum, every sample rotated, no mask"),
}


def _run(cmd: list[str], log: Path) -> None:
    """Run ``cmd`` with its output in ``log``; a failure stops the ablation naming the command and the log."""
    print("      $ " + shell_line(["python", *cmd[1:]]), flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise SystemExit(f"{cmd[2]} failed (exit {result.returncode}); full output in {log}:\n{tail}")


def _bundle(run_id: str, configs: list[Path], overrides: dict[str, Any], log: Path) -> None:
    files = "[" + ",".join(f"'{c}'" for c in configs) + "]"
    cmd = [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", files]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    _run(cmd, log)


def _dataset_grid(dataset: Path) -> list[int]:
    """The training grid of a prepared dataset (its first training image's shape)."""
    from monai_fodgan.data import image_grid, load_datalist

    items = load_datalist(dataset / "datalist.json", "training")
    return list(image_grid(items[0]["image"])[1])


def run_recipe(name: str, seed: int, args: argparse.Namespace, configs: Path) -> Path:
    """Train, sample and evaluate one recipe at one seed; returns its ``metrics.json`` (kept when already there)."""
    work = args.out / name / f"seed{seed}"
    metrics = work / "evaluation" / "metrics.json"
    if metrics.is_file():
        print(f"      {name}, seed {seed}: done before ({metrics})", flush=True)
        return metrics
    overrides, _ = RECIPES[name]
    override = {**overrides, "preset": args.preset, "spatial_shape": _dataset_grid(args.dataset), "device": "cpu",
                "num_workers": 0, "cache_dataset": True, "precision": "fp32", "batch_size": args.batch_size,
                "max_iterations": args.iterations, "epoch_length": max(1, min(args.iterations, 50)),
                "sample_every": 10**9, "log_every": max(1, args.iterations // 20), "seed": seed, "init_checkpoint": None,
                "dataset_dir": str(args.dataset), "normalization_file": str(args.dataset / "sh_stats.json"),
                "work_dir": str(work)}
    override_file = work / "recipe.json"
    work.mkdir(parents=True, exist_ok=True)
    override_file.write_text(json.dumps(override, indent=1) + "\n")
    model = work / "training" / "model.pt"
    if not model.is_file():
        _bundle("training", [configs / "train.json", override_file], {}, work / "training.log")
    _bundle("inference", [configs / "inference.json", override_file],
            {"checkpoint_file": model, "num_samples": args.samples, "seed": seed}, work / "inference.log")
    cmd = [sys.executable, "-m", "monai_fodgan.evaluate", "--synthetic", str(work / "synthetic"),
           "--reference", str(args.dataset / "datalist.json"),
           *([] if args.no_memorisation else ["--training", str(args.dataset / "datalist.json")]), "--out", str(work / "evaluation"), "--streamlines", str(args.eval_streamlines),
           "--tract-streamlines", str(args.eval_tract_streamlines), "--jobs", str(args.jobs), "--seed", str(seed),
           "--no-progress", "--cache", str(args.out / "evaluation_cache"), *args.evaluate_args]
    if args.truth is not None:
        cmd += ["--truth", str(args.truth), "--template", "phantom"]
    _run(cmd, work / "evaluation.log")
    return metrics


def _number(value: str) -> float | None:
    """The first number of a verdict value ("0.83", "0.12 / 0.30", "3"), or None."""
    try:
        return float(str(value).split("/")[0].strip().rstrip("%"))
    except ValueError:
        return None


def table_rows(results: dict[str, list[dict]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the ablation table from each recipe's list of ``metrics.json`` dicts (one per seed).

    Columns are the verdict checks in the order the evaluation reports them; a cell is the value (mean over seeds
    when every seed's value is a number, else the first seed's) and how many seeds passed, e.g. ``0.83 (2/2 pass)``.
    """
    columns: list[str] = []
    rows = []
    for name, runs in results.items():
        row: dict[str, Any] = {"recipe": name}
        checks: dict[str, list[dict]] = {}
        for metrics in runs:
            for check in metrics["verdict"]["checks"]:
                checks.setdefault(check["check"], []).append(check)
                if check["check"] not in columns:
                    columns.append(check["check"])
        for column, found in checks.items():
            numbers = [_number(c["value"]) for c in found]
            value = f"{sum(numbers) / len(numbers):.3g}" if all(n is not None for n in numbers) else found[0]["value"]
            passed = sum(c["status"] == "pass" for c in found)
            row[column] = {"value": value, "pass": passed, "n": len(found), "status": [c["status"] for c in found]}
        rows.append(row)
    return columns, rows


def _cell(text: object) -> str:
    """Text for a Markdown table cell: a literal ``|`` (as in ``|tanh|``) would end the cell, so it is escaped."""
    return str(text).replace("|", "\\|")


def markdown_table(columns: list[str], rows: list[dict[str, Any]], heading: str) -> str:
    """The ablation as a Markdown document: the recipes, then one table with a row per recipe."""
    lines = [heading, "", "| recipe | what |", "| --- | --- |"]
    lines += [f"| `{r['recipe']}` | {_cell(RECIPES[r['recipe']][1])} |" for r in rows if r["recipe"] in RECIPES]
    lines += ["", "| check | " + " | ".join(f"`{r['recipe']}`" for r in rows) + " |",
              "| --- | " + " | ".join("---" for _ in rows) + " |"]
    for column in columns:
        cells = []
        for r in rows:
            cell = r.get(column)
            cells.append("" if cell is None else _cell(f"{cell['value']} ({cell['pass']}/{cell['n']} pass)"))
        lines.append(f"| {_cell(column)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The ablation's command line (no heavy imports: ``--help`` answers at once)."""
    parser = argparse.ArgumentParser(prog="python -m monai_fodgan.ablation", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="prepared dataset (datalist.json, sh_stats.json, fod/)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES), help="recipes to compare")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds (the same for every recipe)")
    parser.add_argument("--iterations", type=int, default=300, help="training iterations per run, from scratch")
    parser.add_argument("--preset", default="demo", help="network preset (monai_fodgan.networks.PRESETS)")
    parser.add_argument("--batch-size", type=int, default=4, help="training batch size")
    parser.add_argument("--samples", type=int, default=16, help="synthetic subjects per run")
    parser.add_argument("--truth", type=Path, default=None, help="phantom population folder (its ground truth is compared)")
    parser.add_argument("--eval-streamlines", type=int, default=5000, help="whole-brain streamlines per subject")
    parser.add_argument("--eval-tract-streamlines", type=int, default=200, help="streamlines per tract")
    parser.add_argument("--evaluate-args", nargs=argparse.REMAINDER, default=[],
                        help="further options passed to python -m monai_fodgan.evaluate (last on the line)")
    parser.add_argument("--jobs", type=int, default=2, help="subjects evaluated in parallel")
    parser.add_argument("--no-memorisation", action="store_true",
                        help="leave out the memorisation check (the training subjects are then not analysed: faster)")
    parser.add_argument("--docs", type=Path, default=None, help="also write the Markdown table here (e.g. bundle/docs/ablation.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.dataset, args.out = args.dataset.resolve(), args.out.resolve()
    if not (args.dataset / "datalist.json").is_file():
        parser.error(f"{args.dataset / 'datalist.json'}: not found; --dataset must be a prepared dataset "
                     "(python -m monai_fodgan.prepare ...)")
    if args.iterations < 1 or args.samples < 2:
        parser.error("--iterations must be at least 1 and --samples at least 2")
    from monai_fodgan.bundle_paths import source_bundle
    from monai_fodgan.io import save_json

    configs = source_bundle() / "configs"
    start = time.perf_counter()
    results: dict[str, list[dict]] = {}
    for k, name in enumerate(args.recipes):
        print(f"[{k + 1}/{len(args.recipes)}] recipe {name}: {RECIPES[name][1]}", flush=True)
        results[name] = [json.loads(run_recipe(name, seed, args, configs).read_text()) for seed in args.seeds]
    columns, rows = table_rows(results)
    setting = (f"{args.iterations} iterations from scratch per run, preset {args.preset}, batch {args.batch_size}, "
               f"grid {' x '.join(map(str, _dataset_grid(args.dataset)))}, seeds {args.seeds}, {args.samples} synthetic "
               f"subjects against the dataset's validation subjects, {args.eval_streamlines} streamlines per subject")
    text = markdown_table(columns, rows, f"# Recipe ablation\n\n{setting}. Command:\n\n    " +
                          shell_line(["python", "-m", "monai_fodgan.ablation", *(argv if argv is not None else sys.argv[1:])]))
    save_json({"setting": setting, "columns": columns, "rows": rows, "seconds": round(time.perf_counter() - start, 1)},
              args.out / "ablation.json")
    from monai_fodgan.io import atomic_output

    for target in [args.out / "ablation.md", *([args.docs] if args.docs else [])]:
        with atomic_output(target) as tmp:
            tmp.write_text(text)
    print(text)
    print(f"ablation finished in {time.perf_counter() - start:.0f} s: {args.out / 'ablation.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
