"""Benchmark: rotate a 28 x 128 x 128 x 64 FOD image with SHRotate and with MRtrix3's mrtransform.

Both run on this machine on the same NIfTI file; printed side by side with their ratio. The fair comparison is
file to file (mrtransform must read and write), the in-memory figure is what a training pipeline pays.
On a CUDA device it also prints the time per volume and per batch of 6 (one rotation per item).

Usage::

    python benchmarks/bench_transforms.py [--size 128 128 64] [--lmax 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from monai_fodgan.data import crossing_fibre_image
from monai_fodgan.geometry import image_center, rotation_from_angles
from monai_fodgan.io import load_fod, save_fod
from monai_fodgan.mrtrix import mrtrix_available, mrtrix_version, run_mrtrix
from monai_fodgan.transforms import SHRotate


def _time(fn, repeats: int, sync: bool = False) -> float:
    """Median wall time (s) of ``fn`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs=3, default=(128, 128, 64))
    parser.add_argument("--lmax", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    img = crossing_fibre_image(shape=tuple(args.size), lmax=args.lmax,
                               affine=np.diag([1.25, 1.61, 2.5, 1.0]))
    r = rotation_from_angles(np.deg2rad([3.0, -2.0, 4.0]))
    rotate = SHRotate(rotation=r)
    print(f"image {tuple(img.shape)} float32, torch {torch.__version__}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        src, ours_out, mr_out = Path(tmp) / "in.nii", Path(tmp) / "ours.nii", Path(tmp) / "mr.nii"
        save_fod(img, src)
        t_mem = _time(lambda: rotate(img), args.repeats)
        t_file = _time(lambda: save_fod(rotate(load_fod(src)), ours_out), args.repeats)
        print(f"SHRotate  in memory     {t_mem * 1e3:9.1f} ms")
        print(f"SHRotate  file to file  {t_file * 1e3:9.1f} ms")
        if mrtrix_available("mrtransform"):
            c = image_center(img.affine, img.shape[1:]).numpy()
            t = np.eye(4)
            t[:3, :3], t[:3, 3] = r.numpy().T, c - r.numpy().T @ c
            np.savetxt(Path(tmp) / "t.txt", t)
            cmd = ("mrtransform", src, "-linear", Path(tmp) / "t.txt", "-template", src, "-interp", "linear",
                   "-oversample", "1", "-reorient_fod", "yes", mr_out, "-force")
            t_mr = _time(lambda: run_mrtrix(*cmd), args.repeats)
            print(f"mrtransform file to file {t_mr * 1e3:8.1f} ms  (MRtrix3 {mrtrix_version()}, all cores)")
            print(f"ratio mrtransform / SHRotate: file to file {t_mr / t_file:.2f}x, vs in memory {t_mr / t_mem:.2f}x"
                  "  (> 1: SHRotate is faster)")
        else:
            print("mrtransform not installed: no baseline (apt-get install mrtrix3)")

    if torch.cuda.is_available():
        gpu = img.cuda()
        t_gpu = _time(lambda: rotate(gpu), max(args.repeats, 10), sync=True)
        batch = torch.stack([gpu.as_tensor()] * 6)
        rs = torch.stack([rotation_from_angles(np.deg2rad([i, -i, 2 * i])) for i in range(1, 7)])
        t_batch = _time(lambda: rotate(batch, rotation=rs, affine=img.affine), max(args.repeats, 10), sync=True)
        print(f"CUDA ({torch.cuda.get_device_name()}): {t_gpu * 1e3:.2f} ms per volume, "
              f"{t_batch * 1e3:.2f} ms per batch of 6 ({t_batch / 6 * 1e3:.2f} ms per volume)")
    else:
        print("no CUDA device: GPU figures not measured")


if __name__ == "__main__":
    main()
