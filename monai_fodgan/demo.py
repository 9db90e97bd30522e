"""The main job on built-in demo data: ``python -m monai_fodgan.demo --out DIR``.

On 2 CPU cores in minutes, end to end, on the shipped demo model's grid (``configs/demo.json``: 32 x 32 x 16);
``--config bundle/configs/demo_3mm.json`` runs it on the 3 mm isotropic grid (56 x 64 x 56) where reference subjects
recover their own ground-truth bundles, from scratch until a model on that grid ships:

1. writes the phantom population (brain-like FODs and simulated multi-shell DWI in MNI space, on the demo grid);
2. prepares it like a real cohort (DWI -> FOD with MRtrix3 when installed, else DIPY; the cohort's brain box
   widened to isotropic voxels with demo_3mm.json, seeded split, normalisation statistics), and shows the paper's rotation
   augmentation on one subject;
3. trains the bundle's alpha-WGAN (demo preset) on it for a short run, continuing from the demo model shipped
   in ``bundle/models/`` when that model is on the demo grid, else from scratch, saying so (training a full one
   takes hours on a CPU and minutes on a GPU: ``scripts/train_demo_model.sh``);
4. generates synthetic subjects with the bundle's inference config and saves slice figures;
5. evaluates them against the validation subjects with the bundle's evaluate config (registration of the phantom's
   AFD template, tractography with MRtrix3 when installed, else DIPY, connectomes, tracts, generative metrics)
   and writes ``evaluation/report.html``. The phantom's ground truth is compared too;
6. the second system, DeepTaskGen (:mod:`monai_fodgan.taskgen.demo`): a synthetic rest/task-fMRI population
   prepared, the ``taskgen_bundle``'s shipped model trained on for two epochs, task maps predicted for new subjects
   and evaluated against two baselines, in ``taskgen/`` (``taskgen/evaluation/report.html``; a minute or two on
   idle cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from monai_fodgan.cli import HelpFormatter, shell_line

__all__ = ["build_parser", "main"]


def _bundle(run_id: str, configs: list[Path], **overrides: object) -> None:
    """Run the bundle through MONAI's own CLI, as a user would (the command is shown as one would type it)."""
    files = "[" + ",".join(f"'{c}'" for c in configs) + "]"
    cmd = [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", files]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    print("      $ " + shell_line(["python", *cmd[1:]]), flush=True)
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise SystemExit(f"the bundle's {run_id} run failed (exit {result.returncode}); see its output above.")


class _Steps:
    """Numbered step lines, each ending with that step's own duration; the total at the end."""

    def __init__(self, n: int) -> None:
        self.n, self.k, self.start = n, 0, time.perf_counter()
        self.step_start = self.start

    def begin(self, text: str) -> None:
        self.k += 1
        self.step_start = time.perf_counter()
        print(f"[{self.k}/{self.n}] {text}", flush=True)

    def done(self, text: str) -> None:
        print(f"      {text} (step {self.k}: {time.perf_counter() - self.step_start:.0f} s)", flush=True)

    def total(self) -> float:
        return time.perf_counter() - self.start


def build_parser() -> argparse.ArgumentParser:
    """The demo's command line (no heavy imports: ``--help`` answers at once)."""
    parser = argparse.ArgumentParser(prog="python -m monai_fodgan.demo", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    parser.add_argument("--subjects", type=int, default=16, help="phantom subjects")
    parser.add_argument("--backend", choices=["auto", "mrtrix", "dipy"], default="auto",
                        help="DWI -> FOD: MRtrix3 when installed (auto), or DIPY")
    parser.add_argument("--iterations", type=int, default=20,
                        help="training iterations on top of the shipped model (from scratch when it is on another grid)")
    parser.add_argument("--samples", type=int, default=8, help="synthetic subjects to generate")
    parser.add_argument("--jobs", type=int, default=2, help="subjects prepared and evaluated in parallel")
    parser.add_argument("--eval-streamlines", type=int, default=5000,
                        help="whole-brain streamlines per subject in the evaluation (the paper: 5,000,000)")
    parser.add_argument("--eval-tract-streamlines", type=int, default=200,
                        help="streamlines per tract in the evaluation (the bundle's default: 2000); on the 3 mm grid "
                             "(demo_3mm.json) use 1000: they fill the corpus callosum's 1 mm mask enough for a Dice of 0.6 "
                             "with its ground truth, 200 do not")
    parser.add_argument("--seed", type=int, default=0, help="seed of the phantom, the split, training and sampling")
    parser.add_argument("--config", type=Path, nargs="*", default=[],
                        help="bundle override files after demo.json (e.g. bundle/configs/demo_3mm.json: the 3 mm grid)")
    parser.add_argument("--taskgen-subjects", type=int, default=72,
                        help="subjects of the DeepTaskGen demo population (1-40 train, the rest held out); 0 skips it")
    parser.add_argument("--taskgen-epochs", type=int, default=2,
                        help="DeepTaskGen training epochs on top of the shipped demo model")
    return parser


def _shipped_weights(models: Path, shape: list[int]) -> Path | None:
    """The shipped weights-only demo model (``demo*_model.pt``) trained on ``shape``, if one is."""
    import torch

    for path in sorted(models.glob("demo*_model.pt")):
        grid = (torch.load(path, map_location="cpu", weights_only=True).get("grid") or {}).get("spatial_shape")
        if grid is not None and [int(v) for v in grid] == shape:
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.subjects < 4:
        parser.error("--subjects must be at least 4 (training and validation subjects)")
    if args.taskgen_subjects and args.taskgen_subjects < 45:
        parser.error("--taskgen-subjects must be 0 (skip) or at least 45 (40 training subjects, 5 held out)")
    # imported only now: --help and argument errors answer without loading torch, MONAI or DIPY
    import numpy as np

    from monai_fodgan.bundle_paths import source_bundle
    from monai_fodgan.data.phantom import make_population
    from monai_fodgan.engines.checkpoint import load_checkpoint
    from monai_fodgan.io import load_fod, save_fod
    from monai_fodgan.prepare import PrepareConfig, prepare_cohort, scan_bids
    from monai_fodgan.transforms import SHFlip, paper_rotation
    from monai_fodgan.visualize import plot_fod_slices

    steps = _Steps(6 if args.taskgen_subjects else 5)
    out = args.out.resolve()
    bundle = source_bundle()
    configs = bundle / "configs"
    overrides = [configs / "demo.json", *[c.resolve() for c in args.config]]
    settings: dict = {}
    for file in overrides:
        settings.update(json.loads(file.read_text()))
    shape = [int(v) for v in settings["spatial_shape"]]
    shipped, done, shipped_grid = bundle / "models" / "demo_checkpoint.pt", 0, "missing"
    if shipped.is_file():  # continued only when it is on the demo grid: weights of another grid do not fit
        shipped_state = load_checkpoint(shipped)
        shipped_shape = [int(v) for v in shipped_state["grid"]["spatial_shape"]]
        shipped_grid = f"on a {' x '.join(map(str, shipped_shape))} grid, not the demo grid"
        done = int(shipped_state["trainer"]["iteration"]) if shipped_shape == shape else 0
        del shipped_state

    steps.begin(f"phantom population: {args.subjects} subjects on a {' x '.join(map(str, shape))} grid")
    phantom = make_population(out / "phantom", n=args.subjects, shape=shape, seed=args.seed)
    steps.done(f"written to {phantom}")

    steps.begin(f"preparing them like a real cohort (DWI -> FOD, training grid, split; {args.jobs} in parallel):")
    cfg = PrepareConfig(out=out / "dataset", backend=args.backend, shape=tuple(shape), isotropic=bool(settings.get("isotropic_crop", False)), n_val=0.25,
                        seed=args.seed, jobs=args.jobs)
    summary = prepare_cohort(scan_bids(phantom), cfg, progress=True)
    if summary["failed"]:
        print(json.dumps(summary["failed"], indent=2))
        return 1
    backend = json.loads((cfg.out / "native" / "sub-0001.json").read_text())["backend"]
    datalist = json.loads((cfg.out / "datalist.json").read_text())
    first = datalist["training"][0]
    image = load_fod(cfg.out / first["image"])
    aug = paper_rotation("image", three_axes=True).set_random_state(seed=args.seed)
    rotated = aug({"image": image})["image"]
    save_fod(rotated, out / "augmented" / f"{first['subject']}_rot.nii.gz")
    mirrored = SHFlip(0)(image)
    save_fod(mirrored, out / "augmented" / f"{first['subject']}_mirrored.nii.gz")
    truth = load_fod(phantom / "derivatives" / "phantom" / first["subject"] / f"{first['subject']}_fod.nii.gz")
    plot_fod_slices([truth, image, rotated, mirrored], ["ground truth", f"prepared ({backend})", "rotated (paper)", "mirrored"],
                    out / "prepared_slices.png")
    steps.done(f"prepared with {backend}: {summary['training']} training, {summary['validation']} validation subjects "
               f"in {cfg.out}; augmentation of {first['subject']} in {out / 'augmented'}")

    # every bundle run gets the same work_dir: demo.json derives training/, synthetic/, evaluation/ and dataset/
    # from it, so the commands below are the README's, and inference finds the model this run trains
    training = out / "training"
    if done:
        steps.begin(f"training the bundle for {args.iterations} iterations on top of the shipped demo model ({done} iterations):")
        _bundle("training", [configs / "train.json", *overrides], work_dir=out, init_checkpoint=shipped,
                max_iterations=done + args.iterations)
    else:
        weights = _shipped_weights(bundle / "models", shape)
        longer = (f"{weights} is a longer run on this grid: sample it with run inference --checkpoint_file {weights}" if weights
                  else "scripts/train_demo_model.sh trains a full model on this grid")
        steps.begin(f"training the bundle FROM SCRATCH for {args.iterations} iterations: the shipped demo model ({shipped}) is "
                    f"{shipped_grid}; samples of so short a run are noise ({longer}):")
        _bundle("training", [configs / "train.json", *overrides], work_dir=out, max_iterations=args.iterations,
                normalization_file=cfg.out / "sh_stats.json")
    steps.done(f"model: {training / 'model.pt'}; losses: {training / 'losses.jsonl'}; samples: {training / 'samples'}")

    synthetic = out / "synthetic"
    steps.begin(f"generating {args.samples} synthetic subjects with the model just trained:")
    _bundle("inference", [configs / "inference.json", *overrides], work_dir=out, num_samples=args.samples,
            seed=args.seed)
    names = [f"sub-synth{k + 1:04d}" for k in range(min(args.samples, 3))]
    images = [load_fod(synthetic / f"{n}.nii.gz") for n in names]
    figure = plot_fod_slices([image, *images], [f"real {first['subject']}", *names], out / "synthetic_slices.png")
    mean_l0 = float(np.mean([img[0].abs().mean() for img in images]))
    steps.done(f"{args.samples} synthetic subjects in {synthetic} (mean |l=0| {mean_l0:.3f}, real "
               f"{float(image[0].abs().mean()):.3f}); figure: {figure}")

    evaluation = out / "evaluation"
    steps.begin(f"evaluating them against the {summary['validation']} validation subjects:")
    _bundle("evaluate", [configs / "evaluate.json", *overrides], work_dir=out,
            streamlines=args.eval_streamlines, tract_streamlines=args.eval_tract_streamlines, tract_seeds=20,
            template="phantom", truth=phantom, jobs=args.jobs, seed=args.seed)
    steps.done(f"report: {evaluation / 'report.html'}")
    _print_key_numbers(json.loads((evaluation / "metrics.json").read_text()))
    if args.taskgen_subjects:
        from monai_fodgan.taskgen.demo import run_taskgen_demo, summary_lines

        steps.begin(f"DeepTaskGen: task-fMRI maps from rest fMRI, {args.taskgen_subjects} synthetic subjects "
                    f"(1-40 train, the rest held out), {args.taskgen_epochs} epochs on top of the shipped model:")
        taskgen = run_taskgen_demo(out / "taskgen", _bundle, args.taskgen_subjects, args.taskgen_epochs)
        for line in summary_lines(taskgen):
            print(f"      {line}")
        steps.done(f"report: {out / 'taskgen' / 'evaluation' / 'report.html'}")
    print(f"demo finished in {steps.total():.1f} s. Synthetic subjects: {synthetic}")
    print(f"Evaluation report: {evaluation / 'report.html'} (numbers: {evaluation / 'metrics.json'})")
    return 0


def _print_key_numbers(metrics: dict) -> None:
    """A few of the report's numbers, synthetic against validation."""
    def mean(stats: dict) -> str:
        return "n/a" if stats.get("mean") is None else f"{stats['mean']:.3g}"

    for backend, c in metrics["connectomes"].items():
        eff = c["global_efficiency"]
        print(f"      global efficiency ({backend}): synthetic {mean(eff['synthetic'])}, validation {mean(eff['reference'])}")
        probabilistic = metrics["tracts"][backend].get("probabilistic", {})
        if "volume_ratio" in probabilistic:
            print(f"      tract volume synthetic / validation ({backend}, probabilistic): {mean(probabilistic['volume_ratio'])}")
    ms = metrics["generative"]["ms_ssim"]
    print(f"      MS-SSIM within synthetic {mean(ms['synthetic'])}, within validation {mean(ms['reference'])}")


if __name__ == "__main__":
    raise SystemExit(main())
