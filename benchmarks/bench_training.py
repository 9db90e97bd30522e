"""Seconds per alpha-WGAN training iteration and peak memory, fp32 (the published code's way) side by side with
bf16 autocast, on random data.

    python benchmarks/bench_training.py --preset paper --shape 128 128 64 --iterations 5 --cudnn benchmark  # one GPU, paper scale
    python benchmarks/bench_training.py --preset demo --shape 32 32 16 --batch 4            # the CPU demo model

One iteration is the paper's: one G/E step, n_critic critic steps, one code-critic step (AlphaWGANTrainer).
Prints a line per precision and the ratio fp32 / other. On a CPU the comparison is fp32 only unless
--precisions says otherwise (CPU bf16 is usually slower, not faster).
"""

from __future__ import annotations

import argparse
import gc
import resource
import time

import torch

from monai_fodgan.engines import AlphaWGANTrainer
from monai_fodgan.networks import build_alpha_wgan


def measure(preset: str, shape: tuple[int, ...], batch: int, n_critic: int, precision: str, iterations: int,
            warmup: int, device: torch.device) -> tuple[float, float]:
    """(seconds per iteration, peak memory in GiB: CUDA allocator peak on GPUs, process peak RSS on CPUs)."""
    torch.manual_seed(0)
    nets = build_alpha_wgan(preset, shape)
    nets = {k: n.to(device) for k, n in nets.items()}
    opts = [torch.optim.Adam(nets[k].parameters(), 1e-4, betas=(0.5, 0.999)) for k in ("generator", "critic", "encoder", "code_critic")]
    data = [{"image": torch.rand(batch * (1 + n_critic), 28, *shape, device=device) * 2 - 1}]
    trainer = AlphaWGANTrainer(device, 1, data, nets["generator"], nets["critic"], nets["encoder"], nets["code_critic"], *opts,
                               epoch_length=1, batch_size=batch, n_critic=n_critic, precision=precision)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        trainer._iteration(trainer, data[0])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iterations):
        trainer._iteration(trainer, data[0])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return (time.perf_counter() - start) / iterations, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 32, 16))
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--n-critic", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--precisions", nargs="+", default=None, help="default: fp32 bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--cudnn", choices=("default", "deterministic", "benchmark"), default="default",
                        help="cuDNN algorithm choice: PyTorch's default; deterministic (what monai.utils.set_determinism "
                             "sets); or benchmark (cuDNN times its algorithms on the first calls)")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = args.cudnn == "benchmark"
    torch.backends.cudnn.deterministic = args.cudnn == "deterministic"
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    precisions = args.precisions or (["fp32", "bf16"] if device.type == "cuda" else ["fp32"])
    print(f"{args.preset} preset, grid {tuple(args.shape)}, batch {args.batch}, n_critic {args.n_critic}, "
          f"cuDNN {args.cudnn}, torch {torch.__version__}, on "
          f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU ({torch.get_num_threads()} threads)'}")
    results = {}
    for precision in precisions:
        sec, peak = measure(args.preset, tuple(args.shape), args.batch, args.n_critic, precision, args.iterations, args.warmup, device)
        results[precision] = sec
        print(f"{precision}: {sec:.3f} s per iteration, peak memory {peak:.2f} GiB")
        gc.collect()  # the engine's handlers form reference cycles: free the last networks before the next precision
        if device.type == "cuda":
            torch.cuda.empty_cache()
    for precision, sec in results.items():
        if precision != "fp32" and "fp32" in results:
            print(f"ratio fp32 / {precision}: {results['fp32'] / sec:.2f}")


if __name__ == "__main__":
    main()
