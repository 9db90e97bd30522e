r"""Command line of :mod:`monai_fodgan.evaluation`: validate synthetic FODs against real ones.

Example::

    python -m monai_fodgan.evaluate --synthetic fodgan_output/synthetic --reference dataset/datalist.json \
        --training dataset/datalist.json --out fodgan_output/evaluation --jobs 4
    # or on the workers of a Dask cluster (shared file system): --scheduler tcp://HOST:8786 instead of --jobs

Writes ``metrics.json``, ``figures/`` and a self-contained ``report.html`` in ``--out``; intermediate results
are cached there, so a re-run resumes where it stopped. Exits 1 when a subject could not be analysed (the report
still lists the others), 2 on bad input (the message names the file), on an output folder that cannot be written,
or on one that another run is using (--wait queues behind it). Identical inputs and --seed give identical numbers
whatever --jobs or --scheduler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monai_fodgan.cli import HelpFormatter
from monai_fodgan.evaluation.atlas import DEFAULT_TRACTS
from monai_fodgan.evaluation.config import EvaluationConfig

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    d = EvaluationConfig.__dataclass_fields__
    p = argparse.ArgumentParser(prog="python -m monai_fodgan.evaluate", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--synthetic", type=Path, required=True, help="folder of synthetic FOD NIfTIs, or a datalist JSON")
    p.add_argument("--reference", type=Path, required=True, help="folder of real FOD NIfTIs, or a prepared datalist.json")
    p.add_argument("--training", type=Path, help="training subjects (folder or datalist) for the memorisation check")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--reference-key", default=d["reference_key"].default, help="datalist key of the reference set")
    p.add_argument("--training-key", default=d["training_key"].default, help="datalist key of the training set")
    p.add_argument("--synthetic-key", default=d["synthetic_key"].default, help="datalist key of the synthetic set")
    p.add_argument("--backend", default="auto", choices=["auto", "mrtrix", "dipy", "both"],
                   help="tractography: MRtrix3 (when installed), DIPY, or both")
    p.add_argument("--tracts", nargs="+", default=list(DEFAULT_TRACTS), help="tracts to reconstruct")
    p.add_argument("--algorithms", nargs="+", default=list(d["algorithms"].default),
                   choices=["deterministic", "probabilistic"], help="tracking algorithms for the tracts")
    p.add_argument("--streamlines", type=int, default=d["streamlines"].default,
                   help="whole-brain streamlines per subject (paper: 5,000,000)")
    p.add_argument("--tract-streamlines", type=int, default=d["tract_streamlines"].default, help="streamlines per tract")
    p.add_argument("--tract-seeds", type=int, default=d["tract_seeds"].default,
                   help="seed budget per tract, in seeds per requested streamline (MRtrix3's default: 1000)")
    p.add_argument("--voxel", type=float, help="isotropic tracking voxel in mm (default: the data's smallest voxel size)")
    p.add_argument("--cutoff", type=float, default=d["cutoff"].default, help="FOD amplitude cutoff (MRtrix3's default)")
    p.add_argument("--max-length", type=float, default=d["max_length_mm"].default, help="maximum streamline length, mm")
    p.add_argument("--step-voxels", type=float, default=None,
                   help="tracking step in voxels (default: MRtrix3's, iFOD2 0.5 and FACT 0.1 voxel)")
    p.add_argument("--min-length-voxels", type=float, default=d["min_length_voxels"].default,
                   help="shortest streamline kept, in voxels (MRtrix3's default)")
    p.add_argument("--mask-voxel", type=float, default=d["mask_voxel_mm"].default, help="tract mask voxel in mm (paper: 1)")
    p.add_argument("--mask-threshold", type=float, default=0.0,
                   help="fraction of a tract's streamlines a 1 mm mask voxel needs (0: any, as the paper)")
    p.add_argument("--atlas", choices=["register", "mni"], default="register",
                   help="register a template to every subject, or take the sets as MNI-space already")
    p.add_argument("--template", default="mni-wm", help="registration template: mni-wm, phantom, or a NIfTI path")
    p.add_argument("--no-syn", action="store_true", help="affine registration only")
    p.add_argument("--truth", type=Path, help="phantom population folder: compare with its ground truth")
    p.add_argument("--mantel-permutations", type=int, default=d["mantel_permutations"].default,
                   help="permutations of the Mantel tests between connectomes")
    p.add_argument("--mmd-permutations", type=int, default=d["mmd_permutations"].default,
                   help="permutations of the MMD two-sample test")
    p.add_argument("--jobs", type=int, default=1, help="subjects processed in parallel")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler (tcp://host:port) whose workers analyse the subjects instead of --jobs; they "
                        "must see the inputs and --out at the same paths")
    p.add_argument("--memory-gb", type=float, default=d["memory_gb"].default, help="memory for images held at once")
    p.add_argument("--seed", type=int, default=0, help="seed of tractography and of the permutation tests")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--cache", type=Path, default=None,
                   help="folder of intermediate results (default: OUT/cache); evaluations against the same reference "
                        "can share one, so each reference subject is analysed once")
    p.add_argument("--wait", action="store_true", help="if another run is using --out, wait for it instead of refusing")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from monai_fodgan.evaluation.pipeline import run_evaluation  # after parsing: --help needs no torch or DIPY

    try:
        cfg = EvaluationConfig(
            synthetic=args.synthetic, reference=args.reference, out=args.out, training=args.training,
            synthetic_key=args.synthetic_key, reference_key=args.reference_key, training_key=args.training_key,
            backend=args.backend, tracts=tuple(args.tracts), algorithms=tuple(args.algorithms),
            streamlines=args.streamlines, tract_streamlines=args.tract_streamlines, tract_seeds=args.tract_seeds, voxel_mm=args.voxel,
            cutoff=args.cutoff, max_length_mm=args.max_length, step_voxels=args.step_voxels,
            min_length_voxels=args.min_length_voxels, mask_voxel_mm=args.mask_voxel, mask_threshold=args.mask_threshold, atlas=args.atlas,
            template=args.template, syn=not args.no_syn, truth=args.truth, mantel_permutations=args.mantel_permutations,
            mmd_permutations=args.mmd_permutations, jobs=args.jobs, scheduler=args.scheduler, memory_gb=args.memory_gb, seed=args.seed,
            progress=not args.no_progress, wait=args.wait, cache=args.cache)
        metrics = run_evaluation(cfg)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # read-only or unwritable output, disk full: the file and the problem, one line
        from monai_fodgan.errors import os_error_message

        print(f"evaluate: error: {os_error_message(err)}", file=sys.stderr)
        return 2
    if metrics["failed"]:
        print(f"evaluate: {len(metrics['failed'])} subject(s) could not be analysed; see {metrics['report']}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
