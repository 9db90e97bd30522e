"""Benchmark: prepare one HCP-size rest subject (91 x 109 x 91 x 1,200, K = 50) for DeepTaskGen.

Times ``monai_fodgan.taskgen.prepare`` on one subject, file to files (read the run, dual-regression stage 1,
K connectivity maps, the rest connectome, write NIfTI, sidecar and summary; the input hash included), with a
breakdown per step, beside a plain nilearn/numpy implementation of the same computation (``NiftiMasker`` to
(T, V), ``np.linalg.lstsq`` for stage 1, z-scored float64 matrix product for the correlations, the masker's
``inverse_transform`` and ``nib.save``), and prints their ratio. Target (issue 14): under 60 s on 2 cores.

The run is synthetic (K smooth-free random group maps in an ellipsoidal brain of about 230,000 voxels, like
HCP's 2 mm mask; low-rank signal plus noise) and written uncompressed frame by frame, so making it never holds
the 4D array in memory. ``--frames`` scales the run down where memory or time is short.

Usage::

    python benchmarks/bench_taskgen_prepare.py [--shape 91 109 91] [--frames 1200] [--components 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from monai_fodgan.io import save_nifti
from monai_fodgan.taskgen.connectivity import ConnectivityAccumulator, dual_regression_stage1
from monai_fodgan.taskgen.prepare import (
    RestInput,
    TaskPrepareConfig,
    _load_masked,
    load_group_inputs,
    prepare_taskgen_cohort,
)

HCP_AFFINE = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])


def _ellipsoid(shape: tuple[int, int, int]) -> np.ndarray:
    grid = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    return sum((g / 0.82) ** 2 for g in grid) <= 1.0


def write_run(path: Path, mask: np.ndarray, maps: np.ndarray, frames: int, seed: int = 0) -> None:
    """A rest run written frame by frame: ``maps @ a(t) + noise + 1000`` in the mask, float32 NIfTI."""
    rng = np.random.default_rng(seed)
    header = nib.Nifti1Header()
    header.set_data_shape(mask.shape + (frames,))
    header.set_data_dtype(np.float32)
    header.set_sform(HCP_AFFINE, code=1)
    header.set_qform(HCP_AFFINE, code=1)
    header.set_xyzt_units("mm", "sec")
    header["pixdim"][4] = 0.72
    header.set_data_offset(352)
    volume = np.zeros(mask.shape, dtype=np.float32)
    with open(path, "wb") as f:
        header.write_to(f)
        f.write(b"\0" * (352 - f.tell()))
        for _ in range(frames):
            volume[mask] = 1000 + maps @ rng.normal(size=maps.shape[1]) + rng.normal(size=maps.shape[0])
            f.write(np.asfortranarray(volume).tobytes(order="F"))


def plain(run: Path, mask_path: Path, comps_path: Path, out: Path) -> dict:
    """The same computation the plain way: nilearn masker, lstsq, z-scored product, inverse transform."""
    from nilearn.maskers import NiftiMasker

    times = {}
    t = time.perf_counter()
    masker = NiftiMasker(mask_img=str(mask_path), standardize=None).fit()
    data = masker.transform(str(run))  # (T, V)
    maps = masker.transform(str(comps_path)).T  # (V, K)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    ts = np.linalg.lstsq(maps - maps.mean(0), data.T, rcond=None)[0].T  # (T, K)
    times["stage1"] = time.perf_counter() - t
    t = time.perf_counter()
    z = (data - data.mean(0)) / data.std(0)
    zt = (ts - ts.mean(0)) / ts.std(0)
    r = (z.T.astype(np.float64) @ zt) / len(ts)
    times["connectivity"] = time.perf_counter() - t
    t = time.perf_counter()
    nib.save(masker.inverse_transform(r.T.astype(np.float32)), str(out))
    times["write"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return {"times": times, "maps": r}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, default=(91, 109, 91))
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shape = tuple(args.shape)
    mask = _ellipsoid(shape)
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(int(mask.sum()), args.components)).astype(np.float32)
    print(f"run {shape} x {args.frames} frames, {int(mask.sum())} mask voxels, K = {args.components}; "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="bench_taskgen_") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        run = tmp / "run.nii"
        write_run(run, mask, maps, args.frames)
        comps = np.zeros(shape + (args.components,), dtype=np.float32)
        comps[mask] = maps
        save_nifti(np.moveaxis(comps, -1, 0), HCP_AFFINE, tmp / "components.nii.gz")
        save_nifti(mask, HCP_AFFINE, tmp / "mask.nii.gz", dtype=np.uint8)
        print(f"synthetic run written in {time.perf_counter() - t:.1f} s ({run.stat().st_size / 2**30:.2f} GiB)")

        # ours, step by step (the same functions prepare calls), then the whole CLI path on the file
        group = load_group_inputs(tmp / "components.nii.gz", tmp / "mask.nii.gz")
        steps = {}
        t = time.perf_counter()
        data = _load_masked(run, group.mask)
        steps["load"] = time.perf_counter() - t
        t = time.perf_counter()
        ts = dual_regression_stage1(data, group.maps)
        steps["stage1"] = time.perf_counter() - t
        t = time.perf_counter()
        acc = ConnectivityAccumulator()
        acc.add(data, ts)
        ours_maps = acc.maps()
        steps["connectivity"] = time.perf_counter() - t
        del data
        t = time.perf_counter()
        summary = prepare_taskgen_cohort([RestInput("bench", [run])], group, TaskPrepareConfig(out=tmp / "prep"),
                                         progress=False)
        ours_total = time.perf_counter() - t
        assert not summary["failed"], summary["failed"]

        base = plain(run, tmp / "mask.nii.gz", tmp / "components.nii.gz", tmp / "plain.nii.gz")
        agree = float(np.abs(base["maps"] - ours_maps).max())
    ratio = base["times"]["total"] / ours_total
    print(f"ours (prepare, file to files): {ours_total:.2f} s  [load {steps['load']:.2f}, stage 1 {steps['stage1']:.2f}, "
          f"connectivity {steps['connectivity']:.2f} s; the rest is hashing and writing]")
    print("plain nilearn/numpy:           {total:.2f} s  [load {load:.2f}, stage 1 {stage1:.2f}, connectivity "
          "{connectivity:.2f}, write {write:.2f} s]".format(**base["times"]))
    print(f"ratio plain / ours: {ratio:.2f}; max |r difference| {agree:.2e}")
    if args.json:
        args.json.write_text(json.dumps({"shape": shape, "frames": args.frames, "components": args.components,
                                         "ours_s": ours_total, "ours_steps_s": steps, "plain_s": base["times"],
                                         "ratio": ratio, "max_abs_r_difference": agree}, indent=1) + "\n")


if __name__ == "__main__":
    main()
