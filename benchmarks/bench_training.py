"""Seconds per alpha-WGAN training iteration, throughput, peak memory and achieved TFLOP/s: the plain form of the
paper's networks as the baseline, side by side with each optimised configuration, in one run, on random data.

    python benchmarks/bench_training.py                                     # CPU: demo preset, 32 x 32 x 16, batch 4
    python benchmarks/bench_training.py --preset paper --shape 128 128 64 --batch 6 --cudnn benchmark \\
        --configs plain fused fused+channels_last fused+compile fused+checkpointing all   # one GPU, paper scale

One iteration is the paper's: one G/E step, n_critic critic steps, one code-critic step (AlphaWGANTrainer). Each
configuration runs in a fresh process (so its peak memory is its own): ``--warmup`` iterations, then
``--iterations`` timed one by one; the median is reported. FLOPs are counted with PyTorch's FlopCounterMode over
one eager iteration of the same networks, i.e. what was actually computed (the fused form computes fewer; the
activation recomputation of checkpointing counts). ``--rounds N`` repeats the whole sequence and takes each
configuration's median over rounds, which evens out a machine that is busy with other work.

Configurations (``+`` combines switches; each is a key of bundle/configs/train.json):
    plain            the paper's layers one by one (upsample then conv): the baseline
    fused            exact transposed-convolution stages and matrix-product head/last layers (implementation)
    channels_last    channels-last 3D memory format (channels_last)
    compile          torch.compile of G and E (compile_networks)
    cudagraphs       torch.compile mode "reduce-overhead", CUDA graphs (compile_mode; CUDA only)
    checkpointing    activation checkpointing of G's stages (activation_checkpointing)
    fp32last         G's last layer in float32 under bf16/fp16 (fp32_last_layer)
    all              fused+channels_last+compile+checkpointing
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SWITCHES = ("fused", "plain", "channels_last", "compile", "cudagraphs", "checkpointing", "fp32last")


def parse_config(name: str) -> dict[str, Any]:
    """``"fused+channels_last"`` -> network options and trainer switches."""
    parts = ["fused", "channels_last", "compile", "checkpointing"] if name == "all" else name.split("+")
    unknown = [p for p in parts if p not in SWITCHES]
    if unknown:
        raise SystemExit(f"unknown configuration part(s) {unknown}; choose from {SWITCHES} or 'all'.")
    return {
        "network": {"implementation": "plain" if "plain" in parts else "fused",
                    "checkpoint_stages": "checkpointing" in parts, "fp32_last_layer": "fp32last" in parts},
        "trainer": {"channels_last": "channels_last" in parts,
                    "compile_networks": "compile" in parts or "cudagraphs" in parts,
                    "compile_mode": "reduce-overhead" if "cudagraphs" in parts else None},
    }


def _build(args: argparse.Namespace, config: dict[str, Any], device):
    import torch

    from monai_fodgan.engines import AlphaWGANTrainer
    from monai_fodgan.networks import build_alpha_wgan

    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: the paper's 2.16 billion parameters take long on a CPU
        nets = build_alpha_wgan(args.preset, tuple(args.shape), **config["network"])
    opts = [torch.optim.Adam(nets[k].parameters(), 1e-4, betas=(0.5, 0.999)) for k in ("generator", "critic", "encoder", "code_critic")]
    images = torch.rand(args.batch * (1 + args.n_critic), 28, *args.shape, device=device) * 2 - 1
    trainer = AlphaWGANTrainer(device, 1, [{"image": images}], nets["generator"], nets["critic"], nets["encoder"],
                               nets["code_critic"], *opts, epoch_length=1, batch_size=args.batch, n_critic=args.n_critic,
                               precision=args.precision, **config["trainer"])
    return trainer, {"image": images}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run one configuration in this process; returns its figures."""
    import torch

    torch.backends.cudnn.benchmark = args.cudnn == "benchmark"
    torch.backends.cudnn.deterministic = args.cudnn == "deterministic"
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    config = parse_config(args.config)
    if config["trainer"]["compile_mode"] == "reduce-overhead" and not cuda:
        return {"config": args.config, "skipped": "CUDA graphs need a GPU"}
    trainer, batch = _build(args, config, device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(args.warmup):
        trainer._iteration(trainer, batch)
    times = []
    for _ in range(args.iterations):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        trainer._iteration(trainer, batch)
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    profile = _top_kernels(trainer, batch, device) if args.profile and cuda else None
    phases = _phase_shares(trainer, batch, device) if args.breakdown else None
    # FLOPs of one iteration as computed, counted on the eager modules (compilation changes no arithmetic)
    trainer._g_forward, trainer._e_forward = trainer.generator, trainer.encoder
    with FlopCount() as counter:
        trainer._iteration(trainer, batch)
    flops = counter.total
    sec = statistics.median(times)
    return {"config": args.config, "precision": args.precision, "seconds": sec, "times": times,
            "samples_per_second": args.batch * (1 + args.n_critic) / sec, "peak_gib": peak,
            "tflop_per_iteration": flops / 1e12, "tflops": flops / 1e12 / sec, "top_kernels": profile,
            "phases": phases}


class FlopCount:
    """Counts the FLOPs of every dispatched operator that PyTorch's FlopCounterMode knows (convolutions, matrix
    products, their backward), without its module hooks, which the gradient penalty's autograd.grad rejects."""

    def __enter__(self) -> FlopCount:
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import flop_registry

        counter = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                count = flop_registry.get(func._overloadpacket)
                if count is not None:
                    counter.total += int(count(*args, **kwargs, out_val=out))
                return out

        self.total = 0
        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)


def _phase_shares(trainer, batch, device) -> dict[str, float]:
    """Share of one iteration's time per phase (the trainer's ``PHASES`` profiler labels): where the time goes."""
    import torch

    from monai_fodgan.engines.trainer import PHASES

    cuda = device.type == "cuda"
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    with torch.profiler.profile(activities=activities) as prof:
        trainer._iteration(trainer, batch)
        if cuda:
            torch.cuda.synchronize(device)
    attr = "device_time_total" if cuda else "cpu_time_total"
    times = {e.key: getattr(e, attr, 0) for e in prof.key_averages() if e.key in PHASES}
    total = sum(times.values()) or 1
    return {name.split(":")[1]: times.get(name, 0) / total for name in PHASES}


def _top_kernels(trainer, batch, device, n: int = 5) -> list[str]:
    """The ``n`` kernels with the most GPU time in one iteration."""
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        trainer._iteration(trainer, batch)
        torch.cuda.synchronize(device)
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, "device_time_total", 0), reverse=True)
    total = sum(getattr(e, "device_time_total", 0) for e in events) or 1
    return [f"{e.key[:90]}: {100 * e.device_time_total / total:.1f}%" for e in events[:n]]


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({torch.get_num_threads()} threads)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo", help="network preset (default: demo)")
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 32, 16), help="grid (default: 32 32 16)")
    parser.add_argument("--batch", type=int, default=4, help="images per step (default: 4, the demo's; paper: 6)")
    parser.add_argument("--n-critic", type=int, default=4, help="critic steps per iteration (default: 4)")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations (default: 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first (default: 2)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole sequence (default: 1)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                        help="default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--configs", nargs="+", default=None,
                        help="default on CPU: plain fused fused+channels_last fused+checkpointing; on CUDA: plain fused "
                             "fused+channels_last fused+compile fused+checkpointing fused+fp32last all")
    parser.add_argument("--cudnn", choices=("default", "deterministic", "benchmark"), default="default",
                        help="cuDNN algorithm choice (default: PyTorch's); benchmark is the bundle's GPU default")
    parser.add_argument("--profile", action="store_true", help="print the 5 kernels with the most GPU time per configuration")
    parser.add_argument("--breakdown", action="store_true",
                        help="print each configuration's share of time per phase of the iteration (profiled once)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--config", help=argparse.SUPPRESS)  # internal: measure one configuration in this process
    args = parser.parse_args()
    if args.config:
        args.precision = args.precision or "fp32"
        print(json.dumps(measure(args)))
        return

    import torch

    cuda = torch.cuda.is_available()
    args.precision = args.precision or ("bf16" if cuda else "fp32")
    configs = args.configs or (["plain", "fused", "fused+channels_last", "fused+compile", "fused+checkpointing",
                                "fused+fp32last", "all"] if cuda else
                               ["plain", "fused", "fused+channels_last", "fused+checkpointing"])
    print(f"{args.preset} preset, grid {tuple(args.shape)}, batch {args.batch}, n_critic {args.n_critic}, {args.precision}, "
          f"cuDNN {args.cudnn}, torch {torch.__version__}, on {device_name()}; median of {args.iterations} iterations "
          f"after {args.warmup} warm-up, {args.rounds} round(s)", flush=True)
    runs: dict[str, list[dict]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        for name in configs:
            cmd = [sys.executable, __file__, "--config", name, "--preset", args.preset, "--shape", *map(str, args.shape),
                   "--batch", str(args.batch), "--n-critic", str(args.n_critic), "--iterations", str(args.iterations),
                   "--warmup", str(args.warmup), "--precision", args.precision, "--cudnn", args.cudnn,
                   *(["--profile"] if args.profile else []), *(["--breakdown"] if args.breakdown else [])]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                runs[name].append({"config": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1]})
                continue
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            if args.json:  # as it goes: a run cut short by a time limit keeps what it measured
                _write_json(args, [_combine(n, r) for n, r in runs.items() if r])
    rows = [_combine(name, results) for name, results in runs.items()]
    base = next((r for r in rows if r["config"] == configs[0] and "seconds" in r), None)
    print(f"{'configuration':28s} {'s/iteration':>11s} {'samples/s':>10s} {'peak GiB':>9s} {'TFLOP/it':>9s} "
          f"{'TFLOP/s':>8s} {'speed-up':>9s}")
    for r in rows:
        if "seconds" not in r:
            print(f"{r['config']:28s} {r.get('skipped') or 'failed: ' + r.get('error', '?')}")
            continue
        r["speedup"] = base["seconds"] / r["seconds"] if base else None
        print(f"{r['config']:28s} {r['seconds']:11.3f} {r['samples_per_second']:10.1f} {r['peak_gib']:9.2f} "
              f"{r['tflop_per_iteration']:9.3g} {r['tflops']:8.3g} {r['speedup']:8.2f}x")
        if r.get("phases"):
            print("    time per phase: " + ", ".join(f"{k.replace('_', ' ')} {100 * v:.0f}%" for k, v in r["phases"].items()))
        for kernel in r.get("top_kernels") or []:
            print(f"    {kernel}")
    if base:
        print(f"baseline: {configs[0]}; speed-up = its seconds per iteration / the configuration's")
    if args.json:
        _write_json(args, rows)


def _write_json(args: argparse.Namespace, rows: list[dict]) -> None:
    import torch

    args.json.write_text(json.dumps({"device": device_name(), "torch": torch.__version__, "args": {
        k: v for k, v in vars(args).items() if k != "json"}, "rows": rows}, indent=1, default=str))


def _combine(name: str, results: list[dict]) -> dict:
    ok = [r for r in results if "seconds" in r]
    if not ok:
        return results[-1] if results else {"config": name, "error": "not run"}
    out = dict(ok[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in ok)
    out["samples_per_second"] = ok[-1]["samples_per_second"] * ok[-1]["seconds"] / out["seconds"]
    out["tflops"] = out["tflop_per_iteration"] / out["seconds"]
    out["peak_gib"] = max(r["peak_gib"] for r in ok)
    return out


if __name__ == "__main__":
    main()
