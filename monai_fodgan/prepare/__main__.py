"""Command line: ``python -m monai_fodgan.prepare`` (also installed as ``monai-fodgan-prepare``).

One subject::

    python -m monai_fodgan.prepare --dwi dwi.nii.gz --bval dwi.bval --bvec dwi.bvec [--mask mask.nii.gz] --out DIR
    python -m monai_fodgan.prepare --dwi dwi.mif --out DIR            # gradients embedded in the .mif
    python -m monai_fodgan.prepare --fod wm.mif --out DIR             # a ready FOD (lmax 8 is truncated to 6)

A cohort::

    python -m monai_fodgan.prepare --table subjects.tsv --out DIR --jobs 4
    python -m monai_fodgan.prepare --bids /data/bids --out DIR --val 100
    python -m monai_fodgan.prepare --table subjects.tsv --out DIR --scheduler tcp://HOST:8786   # on a Dask cluster

Exits 1 when any subject failed (the others still finish; summary.json lists why), 2 on bad arguments or input
(unsafe or repeated subject IDs, a malformed datalist.json in --out, an output folder that cannot be written, or
one that another run is using: pass --wait to queue behind it).

Adding subjects to an existing output folder keeps the subjects already there (files and training/validation
assignment) and keeps datalist.json, sh_stats.json and summary.json in agreement; with --crop cohort the new
subjects go into the dataset's crop box, and one whose brain reaches outside it fails unless --recrop re-crops all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monai_fodgan.cli import HelpFormatter
from monai_fodgan.errors import os_error_message
from monai_fodgan.locking import OutputLockedError
from monai_fodgan.prepare.options import BACKEND_CHOICES, CROPS
from monai_fodgan.safe_paths import check_subject_id


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m monai_fodgan.prepare", description=__doc__, formatter_class=HelpFormatter)
    src = p.add_argument_group("input (one of --dwi, --fod, --table, --bids)")
    src.add_argument("--dwi", type=Path, help="DWI: NIfTI (with --bval/--bvec) or .mif")
    src.add_argument("--bval", type=Path, help="FSL b-values of a NIfTI --dwi")
    src.add_argument("--bvec", type=Path, help="FSL b-vectors (image frame) of a NIfTI --dwi")
    src.add_argument("--mask", type=Path, help="brain mask (default: computed)")
    src.add_argument("--fod", type=Path, help="a ready FOD image instead of a DWI")
    src.add_argument("--subject", default=None, help="subject ID for a single subject (default: file name)")
    src.add_argument("--table", type=Path, help="CSV/TSV: subject,dwi,bval,bvec,mask,fod")
    src.add_argument("--bids", type=Path, help="BIDS-style folder")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                   help="auto: MRtrix3 when installed, else DIPY single-shell CSD; dipy-msmt needs cvxpy")
    p.add_argument("--lmax", type=int, default=6, help="FOD order (paper: 6)")
    p.add_argument("--shape", type=int, nargs=3, default=(128, 128, 64), help="training grid (paper: 128 128 64)")
    p.add_argument("--crop", choices=CROPS, default="cohort",
                   help="cohort: one brain box for all subjects (as the paper); subject: each its own box; "
                        "hcp: the paper's slices of the 145 x 174 x 145 HCP grid")
    p.add_argument("--isotropic", action="store_true",
                   help="widen the crop box so that --shape gets isotropic voxels (the demo: 56 64 56, about 3 mm)")
    p.add_argument("--val", type=float, default=0.1, help="validation subjects: count, or fraction if < 1")
    p.add_argument("--seed", type=int, default=0, help="seed of the training/validation split")
    p.add_argument("--jobs", type=int, default=1, help="subjects processed in parallel (CPU threads are shared among them)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler (tcp://host:port) whose workers process the subjects instead of --jobs; they "
                        "must see the inputs and --out at the same paths")
    p.add_argument("--responses", type=Path, nargs=3, metavar=("WM", "GM", "CSF"),
                   help="MRtrix3 response files to use instead of dwi2response dhollander")
    p.add_argument("--training-arrays", action="store_true",
                   help="also write float16 training arrays (training_arrays/, training_arrays_datalist.json) that a "
                        "GPU can be fed from (train.json: training_storage 'arrays')")
    p.add_argument("--recrop", action="store_true",
                   help="adding to an existing --crop cohort dataset: re-crop every subject to a box holding them all")
    p.add_argument("--wait", action="store_true", help="if another run is using --out, wait for it instead of refusing")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = [x for x in (args.dwi, args.fod, args.table, args.bids) if x is not None]
    if len(given) != 1:
        parser.error("give exactly one of --dwi, --fod, --table, --bids")
    for name in ("dwi", "bval", "bvec", "mask", "fod", "table", "bids"):
        path = getattr(args, name)
        if path is not None and not path.exists():
            parser.error(f"--{name} {path}: no such file or folder")
    # imported only now: --help and argument errors answer without loading torch, MONAI or DIPY
    from monai_fodgan.prepare.cohort import PrepareConfig, prepare_cohort
    from monai_fodgan.prepare.dwi import DWIInput
    from monai_fodgan.prepare.inputs import read_table, scan_bids

    try:
        if args.table:
            items = read_table(args.table)
        elif args.bids:
            items = scan_bids(args.bids)
        else:
            single = args.dwi or args.fod
            subject = check_subject_id(args.subject or single.name.split(".")[0], "--subject")
            items = [DWIInput(subject, dwi=args.dwi, bval=args.bval, bvec=args.bvec, mask=args.mask, fod=args.fod)]
        cfg = PrepareConfig(out=args.out, backend=args.backend, lmax=args.lmax, shape=tuple(args.shape), crop=args.crop,
                            n_val=args.val, seed=args.seed, jobs=args.jobs, scheduler=args.scheduler,
                            responses=tuple(args.responses) if args.responses else None, recrop=args.recrop, isotropic=args.isotropic,
                            wait=args.wait)
    except (OSError, ValueError) as e:
        parser.error(os_error_message(e) if isinstance(e, OSError) else str(e))
    try:
        summary = prepare_cohort(items, cfg)
    except (ValueError, OutputLockedError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # read-only or unwritable output, disk full: the file and the problem, one line
        print(f"{parser.prog}: error: {os_error_message(e)}", file=sys.stderr)
        return 2
    print(f"prepared {summary['done']} subjects, skipped {summary['skipped']} already done, "
          f"{len(summary['failed'])} failed; training {summary['training']}, validation {summary['validation']}; "
          f"{summary['total_seconds']} s. Summary: {args.out / 'summary.json'}")
    for failure in summary["failed"]:
        print(f"FAILED {failure['subject']}: {failure['error']}", file=sys.stderr)
    if args.training_arrays and summary["training"]:
        from monai_fodgan.data.training_arrays import write_training_arrays

        print(f"training arrays: {write_training_arrays(args.out, progress=False, wait=True)}")
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
