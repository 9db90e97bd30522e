"""The main job on built-in demo data: ``python -m monai_fodgan.demo --out DIR``.

Runs what exists end to end, on 2 CPU cores in a few minutes:

1. writes the phantom population (brain-like FODs and simulated multi-shell DWI in MNI space);
2. prepares it like a real cohort (DWI -> FOD with MRtrix3 when installed, else DIPY; standard grid,
   seeded split, normalisation statistics);
3. applies the paper's rotation augmentation to a training subject and mirrors it;
4. saves slice figures of ground truth, prepared FOD and augmented copies.

(The generative model's training and sampling join this job when the bundle lands.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from monai_fodgan.data.phantom import make_population
from monai_fodgan.io import load_fod, save_fod
from monai_fodgan.prepare import PrepareConfig, prepare_cohort, scan_bids
from monai_fodgan.transforms import SHFlip, paper_rotation
from monai_fodgan.visualize import plot_fod_slices


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    parser.add_argument("--subjects", type=int, default=16, help="phantom subjects")
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 32, 16), help="grid")
    parser.add_argument("--backend", choices=["auto", "mrtrix", "dipy"], default="auto")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = args.out

    phantom = make_population(out / "phantom", n=args.subjects, shape=args.shape, seed=args.seed)
    print(f"[1/4] phantom population: {args.subjects} subjects in {phantom} ({time.perf_counter() - start:.0f} s)")

    cfg = PrepareConfig(out=out / "dataset", backend=args.backend, shape=tuple(args.shape), n_val=0.25,
                        seed=args.seed, jobs=args.jobs)
    summary = prepare_cohort(scan_bids(phantom), cfg, progress=False)
    if summary["failed"]:
        print(json.dumps(summary["failed"], indent=2))
        return 1
    backend = json.loads((cfg.out / "native" / "sub-0001.json").read_text())["backend"]
    print(f"[2/4] prepared with {backend}: {summary['training']} training, {summary['validation']} validation "
          f"subjects in {cfg.out} ({time.perf_counter() - start:.0f} s)")

    datalist = json.loads((cfg.out / "datalist.json").read_text())
    first = datalist["training"][0]
    image = load_fod(cfg.out / first["image"])
    augmented = []
    for copy, three_axes in enumerate((False, False, False, True), start=1):
        aug = paper_rotation("image", three_axes=three_axes).set_random_state(seed=args.seed + copy)
        rotated = aug({"image": image})["image"]
        save_fod(rotated, out / "augmented" / f"{first['subject']}_rot{copy}.nii.gz")
        augmented.append((rotated, np.round(np.rad2deg(aug.rand_rotate.angles), 2).tolist()))
    mirrored = SHFlip(0)(image)
    save_fod(mirrored, out / "augmented" / f"{first['subject']}_mirrored.nii.gz")
    print(f"[3/4] paper augmentation of {first['subject']}: angles (deg) {[a for _, a in augmented]}, "
          f"and a left-right mirror, in {out / 'augmented'}")

    truth = load_fod(phantom / "derivatives" / "phantom" / first["subject"] / f"{first['subject']}_fod.nii.gz")
    figure = plot_fod_slices([truth, image, augmented[-1][0], mirrored],
                             ["ground truth", f"prepared ({backend})", "three-axis rotation", "mirrored"],
                             out / "demo_slices.png")
    print(f"[4/4] figure: {figure}")
    print(f"demo finished in {time.perf_counter() - start:.1f} s; outputs in {out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
