"""Training samples per second that the data path delivers, per loader worker and in total, beside what one paper
iteration needs: gzipped NIfTI with the rotation in the workers (the paper's path) against the float16 training
arrays with the rotation on the device.

    python benchmarks/bench_loader.py                        # paper size: 28 x 128 x 128 x 64, 4 subjects
    python benchmarks/bench_loader.py --shape 32 32 16 --subjects 8 --samples 40    # quick

Each paper iteration reads batch x (1 + n_critic) = 30 real images; at a target of ``--seconds-per-iteration``
(1.0) the loader must deliver 30 / 1.0 samples per second. Per worker is one process running the dataset's
``__getitem__`` (load, normalise, and for the NIfTI path rotate); in total is a real ``DataLoader`` with
``--workers`` workers and batches of 30, as the bundle builds it. The images are random (normal, per-band
scaled like FODs), written once to ``--work`` (reused if present); page-cache-warm reads, which is what a
dataset that fits in the host's memory sees after the first pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from monai.data import DataLoader
from monai.transforms import Compose, EnsureTyped, Identityd, SelectItemsd

from monai_fodgan.data import FODStreamDataset, StreamSampler, grid_affine
from monai_fodgan.data.training_arrays import write_training_arrays
from monai_fodgan.io import save_nifti
from monai_fodgan.transforms import BatchRandSHRotate, LoadFODd, NormalizeSHd, SHNormalization, paper_rotation


def make_dataset(work: Path, shape: tuple[int, int, int], n: int) -> Path:
    """``n`` random subjects as gzipped NIfTI (float32) with datalist and statistics, plus their training arrays."""
    if (work / "training_arrays_datalist.json").is_file():
        return work
    rng = np.random.default_rng(0)
    (work / "fod").mkdir(parents=True, exist_ok=True)
    affine = np.diag([1.25, 1.61, 2.5, 1.0])
    band = np.repeat([0.3, 0.1, 0.05, 0.03], [1, 5, 9, 13]).astype(np.float32)
    entries = []
    for i in range(n):
        data = rng.standard_normal((28, *shape), dtype=np.float32) * band[:, None, None, None]
        path = work / "fod" / f"sub-{i:04d}.nii.gz"
        save_nifti(data, affine, path)
        entries.append({"image": f"fod/{path.name}", "subject": path.name[:8]})
        print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB gzipped)", flush=True)
    SHNormalization(lmax=6, scales=tuple(float(b) for b in band[[0, 1, 6, 15]]), quantile=1.0, n_images=n).save(work / "sh_stats.json")
    (work / "datalist.json").write_text(json.dumps({"training": entries, "validation": []}))
    write_training_arrays(work, lists=("training",), progress=True)
    return work


def dataset(work: Path, storage: str, rotate_in_worker: bool) -> FODStreamDataset:
    datalist = "training_arrays_datalist.json" if storage == "arrays" else "datalist.json"
    from monai.data import load_decathlon_datalist

    data = load_decathlon_datalist(str(work / datalist), False, "training")
    stats = SHNormalization.load(work / "sh_stats.json")
    pre = Compose([LoadFODd("image", lmax=6, truncate=True), NormalizeSHd("image", stats), SelectItemsd(["image"])])
    aug = Compose([paper_rotation("image") if rotate_in_worker else Identityd("image"),
                   EnsureTyped("image", dtype=torch.float32, track_meta=False)])
    return FODStreamDataset(data, pre, aug, seed=0, cache=False, lmax=6)


def per_worker(ds: FODStreamDataset, samples: int) -> float:
    """Samples per second of one process (one loader worker)."""
    ds[0]
    start = time.perf_counter()
    for p in range(1, samples + 1):
        ds[p]
    return samples / (time.perf_counter() - start)


def in_total(ds: FODStreamDataset, workers: int, per_iteration: int, iterations: int) -> float:
    """Samples per second of a DataLoader with ``workers`` workers, batches of one iteration's samples, timed from
    the loader's start (worker start-up included) to the last of ``iterations`` batches: prefetched batches cannot
    make it look faster than the workers are."""
    loader = DataLoader(ds, batch_size=per_iteration, sampler=StreamSampler(per_iteration), num_workers=workers)
    start = time.perf_counter()
    it = iter(loader)
    for _ in range(iterations):
        next(it)
    return iterations * per_iteration / (time.perf_counter() - start)


def device_rotation(work: Path, per_iteration: int, device: torch.device) -> float:
    """Seconds to rotate one iteration's batch on ``device`` (the trainer's batch transform)."""
    ds = dataset(work, "arrays", rotate_in_worker=False)
    batch = torch.stack([ds[p]["image"] for p in range(per_iteration)]).to(device)
    rotate = BatchRandSHRotate(Compose([paper_rotation("image")]), grid_affine(ds.data[0]["image"]), seed=0)
    rotate(batch, list(range(per_iteration)))
    times = []
    for k in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        rotate(batch, list(range(k * per_iteration, (k + 1) * per_iteration)))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, default=(128, 128, 64), help="grid (default: the paper's 128 128 64)")
    parser.add_argument("--subjects", type=int, default=4, help="random subjects to write (default: 4)")
    parser.add_argument("--samples", type=int, default=8, help="samples timed per worker (default: 8)")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 16), help="loader workers (default: the cores, at most 16)")
    parser.add_argument("--iterations", type=int, default=2, help="loader batches timed in total (default: 2)")
    parser.add_argument("--batch", type=int, default=6, help="images per step (default: 6)")
    parser.add_argument("--n-critic", type=int, default=4, help="critic steps per iteration (default: 4)")
    parser.add_argument("--seconds-per-iteration", type=float, default=1.0, help="the iteration time to feed (default: 1.0)")
    parser.add_argument("--host-workers", type=int, default=16, help="workers of the GPU host projected (default: 16)")
    parser.add_argument("--work", type=Path, default=Path("out/bench_loader"), help="where the images are written (default: out/bench_loader)")
    args = parser.parse_args()
    shape = tuple(args.shape)
    work = make_dataset(args.work / "x".join(map(str, shape)), shape, args.subjects)
    per_iteration = args.batch * (1 + args.n_critic)
    need = per_iteration / args.seconds_per_iteration
    print(f"grid {shape} x 28, {per_iteration} samples per iteration; at {args.seconds_per_iteration} s per iteration the "
          f"GPU needs {need:.0f} samples/s; {os.cpu_count()} cores here, {args.workers} workers", flush=True)
    print(f"{'data path':44s} {'per worker':>11s} {'x' + str(args.host_workers) + ' workers':>12s} {'in total here':>14s}")
    results = {}
    for name, storage, rotate in (("gzipped NIfTI, rotation in the workers", "nifti", True),
                                  ("gzipped NIfTI, no rotation", "nifti", False),
                                  ("float16 arrays, rotation on the device", "arrays", False)):
        ds = dataset(work, storage, rotate)
        one = per_worker(ds, args.samples)
        total = in_total(ds, args.workers, per_iteration, args.iterations)
        results[name] = one
        print(f"{name:44s} {one:9.2f}/s {one * args.host_workers:10.1f}/s {total:12.1f}/s", flush=True)
    base = results["gzipped NIfTI, rotation in the workers"]
    print(f"ratio arrays+device rotation / NIfTI+worker rotation, per worker: "
          f"{results['float16 arrays, rotation on the device'] / base:.1f}x")
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    sec = device_rotation(work, per_iteration, device)
    print(f"rotation of one iteration's {per_iteration} images on {device.type}: {sec:.3f} s")


if __name__ == "__main__":
    main()
