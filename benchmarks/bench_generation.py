"""Synthetic volumes per second from the generator, copy to the host included, per batch size, for the plain and
the fused form.

    python benchmarks/bench_generation.py --preset paper --shape 128 128 64 --batches 1 2 4 8 16   # one GPU
    python benchmarks/bench_generation.py                                                          # CPU, demo preset

Sampling as inference does it: G in eval mode (BatchNorm with fixed statistics), no gradients, under bf16
autocast on GPUs (float32 elsewhere), the output converted to float32 and copied to host memory (what is then
de-normalised and written). Random weights: the speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from monai_fodgan.networks import build_alpha_wgan


def volumes_per_second(generator: torch.nn.Module, batch: int, device: torch.device, repeats: int, bf16: bool) -> float:
    z = torch.randn(batch, generator.latent_size, device=device)
    cuda = device.type == "cuda"

    def once() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = generator(z)
        out.float().cpu()  # the copy to the host synchronises

    once()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo", help="network preset (default: demo)")
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 32, 16), help="grid (default: 32 32 16)")
    parser.add_argument("--batches", type=int, nargs="+", default=(1, 2, 4, 8), help="batch sizes (default: 1 2 4 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per batch size (default: 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    bf16 = device.type == "cuda"
    torch.backends.cudnn.benchmark = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"{args.preset} preset, grid {tuple(args.shape)}, {'bf16' if bf16 else 'fp32'}, on {name}: synthetic volumes per "
          "second (eval mode, no gradients, copy to host included)", flush=True)
    rows = []
    for implementation in ("plain", "fused"):
        torch.manual_seed(0)
        generator = build_alpha_wgan(args.preset, tuple(args.shape), implementation=implementation)["generator"]
        generator = generator.to(device).eval()
        for batch in args.batches:
            try:
                vps = volumes_per_second(generator, batch, device, args.repeats, bf16)
            except torch.OutOfMemoryError:
                print(f"{implementation:6s} batch {batch:3d}: out of memory", flush=True)
                break
            rows.append({"implementation": implementation, "batch": batch, "volumes_per_second": vps})
            print(f"{implementation:6s} batch {batch:3d}: {vps:8.2f} volumes/s", flush=True)
        del generator
        if device.type == "cuda":
            torch.cuda.empty_cache()
    best = {impl: max((r for r in rows if r["implementation"] == impl), key=lambda r: r["volumes_per_second"], default=None)
            for impl in ("plain", "fused")}
    for impl, r in best.items():
        if r:
            print(f"best {impl}: {r['volumes_per_second']:.2f} volumes/s at batch {r['batch']}")
    if best["plain"] and best["fused"]:
        print(f"ratio fused / plain at the best batch: {best['fused']['volumes_per_second'] / best['plain']['volumes_per_second']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"device": name, "preset": args.preset, "shape": list(args.shape), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
