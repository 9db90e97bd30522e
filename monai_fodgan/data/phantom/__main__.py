"""Command line: ``python -m monai_fodgan.data.phantom --out DIR``: write a phantom population (BIDS-style).

Example::

    python -m monai_fodgan.data.phantom --out phantom --n 16     # the demo grid, 56 x 64 x 56 (3.125 mm)

Writes ``sub-*/dwi/`` (simulated multi-shell DWI, FSL gradients, brain mask), ``derivatives/phantom/`` (the true
FODs, bundles, AAL labels and tissue maps), ``participants.tsv`` and ``phantom.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from monai_fodgan.cli import HelpFormatter

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command line (no heavy imports: ``--help`` answers at once)."""
    parser = argparse.ArgumentParser(prog="python -m monai_fodgan.data.phantom", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--n", type=int, default=12, help="number of subjects")
    parser.add_argument("--shape", type=int, nargs=3, default=(56, 64, 56),
                        help="grid of every subject over the 175 x 200 x 175 mm MNI box (default: the demo grid, 3.125 mm)")
    parser.add_argument("--seed", type=int, default=0, help="subject k of seed s is the same on every machine")
    parser.add_argument("--snr", type=float, default=30.0, help="b = 0 SNR in white matter (0: no noise)")
    parser.add_argument("--lmax", type=int, default=6, help="order of the true FODs")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n < 1 or min(args.shape) < 1:
        parser.error("--n and --shape must be positive")
    from monai_fodgan.data.phantom.population import make_population  # after parsing: --help needs no torch

    start = time.perf_counter()
    make_population(args.out, args.n, args.shape, args.seed, args.snr, args.lmax)
    print(f"wrote {args.n} phantom subjects to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
