"""The DeepTaskGen part of the main job: the synthetic population prepared, the shipped model trained on, predictions
for new subjects, and the evaluation report, all through the ``taskgen_bundle`` (a minute or two on 2 idle CPU cores).

1. a population of ``subjects`` on the demo grid (8 mm MNI, K = 12 networks, C = 6 contrasts, 2 rest runs of 120
   frames); subjects 1-40 are the ones the shipped demo model was trained on (the population is deterministic
   per subject), the rest are new to it;
2. preparation (dual regression stage 1, connectivity maps, 60-frame sub-samples), holding out subjects 41 and up;
3. ``epochs`` epochs of the bundle's training on subjects 1-40, continuing from ``models/demo_model.pt``, with the
   learning rate scheduled on the validation loss;
4. the bundle's inference for the held-out subjects (the mean over each one's sub-samples);
5. the bundle's evaluation: ``evaluation/report.html``, model against the group-average and Tavor baselines,
   identification and phenotype prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["TRAINED_SUBJECTS", "run_taskgen_demo", "summary_lines"]

#: subjects 1..TRAINED_SUBJECTS of the demo population are those the shipped demo model was trained (and validated) on
TRAINED_SUBJECTS = 40


def run_taskgen_demo(out: Path, bundle: Callable[..., None], subjects: int = 72, epochs: int = 2) -> dict:
    """Run the five steps in ``out`` (the bundle's ``work_dir``); ``bundle(run_id, configs, **overrides)`` runs
    ``python -m monai.bundle`` as :func:`monai_fodgan.demo._bundle` does. Returns the evaluation's metrics."""
    import json

    from monai_fodgan.bundle_paths import source_bundle
    from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
    from monai_fodgan.taskgen.prepare import main as prepare

    if subjects < TRAINED_SUBJECTS + 5:
        raise ValueError(f"subjects must be at least {TRAINED_SUBJECTS + 5} (5 held out for 5-fold phenotype prediction).")
    root = source_bundle("taskgen_bundle")
    configs, shipped = root / "configs", root / "models" / "demo_model.pt"
    if not shipped.is_file():
        raise SystemExit(f"{shipped}: the shipped DeepTaskGen demo model is missing.")
    pop = make_population(out / "population", n=subjects, spec=PopulationSpec())
    held_out = [f"sub-{k:04d}" for k in range(TRAINED_SUBJECTS + 1, subjects + 1)]
    group = pop / "group"
    code = prepare(["--table", str(pop / "subjects.tsv"), "--components", str(group / "components.nii.gz"),
                    "--mask", str(group / "brain_mask.nii.gz"), "--gm-mask", str(group / "gm_mask.nii.gz"),
                    "--window", "60", "--val-subjects", *held_out, "--out", str(out / "dataset")])
    if code != 0:
        raise SystemExit(f"the DeepTaskGen preparation failed (exit {code}); see {out / 'dataset' / 'summary.json'}.")
    bundle("training", [configs / "train.json", configs / "demo.json"], work_dir=out, init_checkpoint=shipped,
           max_epochs=epochs)
    bundle("inference", [configs / "inference.json", configs / "demo.json"], work_dir=out, split="validation")
    bundle("evaluate", [configs / "evaluate.json", configs / "demo.json"], work_dir=out)
    return json.loads((out / "evaluation" / "metrics.json").read_text())


def summary_lines(metrics: dict) -> list[str]:
    """The report's headline numbers: model against both baselines, identification, phenotype R^2."""
    lines = []
    for key, label in (("model", "model"), ("group_average", "group average"), ("tavor", "Tavor regression")):
        m = metrics[key]["mean"]
        lines.append(f"{label:17s} r {m['pearson_r']:.3f}  diagonality {m['diagonality']:.4f}  top-1 {m['top1']:.2f}  "
                     f"Dice-AUC {m['dice_auc']:.3f}")
    lines.append(f"top-1 chance {metrics['model']['chance_top1']:.3f} ({len(metrics['subjects'])} held-out subjects)")
    p = metrics.get("phenotype_r2")
    if p:
        lines.append(f"phenotype R^2: predicted maps {p['predicted_maps']:.3f}, actual maps {p['actual_maps']:.3f}, "
                     f"rest connectome {p['rest_connectome']:.3f}")
    lines.append(metrics["verdict"]["summary"])
    return lines
