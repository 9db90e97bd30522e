"""Do bf16 (and fp16) training compute what fp32 computes? The losses of the first training iteration from the
same weights, data and random draws, side by side, as relative differences.

    python benchmarks/precision_agreement.py --preset paper --shape 128 128 64 --batch 6    # one GPU, paper scale
    python benchmarks/precision_agreement.py --preset tiny --shape 16 16 8 --batch 2         # CPU check of the script

The initial weights are kept on the host and loaded again before each precision (the paper's networks do not fit
twice into one GPU with their optimiser states). A relative difference of a few 1e-3 is bf16's rounding (8 bits
of mantissa); the reconstruction term, weighted 50,000, is where it shows first (``--fp32-last-layer`` runs G's
last layer in float32 for comparison).
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

import torch

from monai_fodgan.engines import AlphaWGANTrainer
from monai_fodgan.networks import build_alpha_wgan

KEYS = ("loss_ge", "recon_l1", "ge_d_dec", "ge_d_syn", "loss_d", "d_real", "gp_d", "loss_cd", "gp_cd")


def first_iteration(args: argparse.Namespace, state: dict, images: torch.Tensor, precision: str, fp32_last: bool,
                    device: torch.device) -> dict[str, float]:
    nets = build_alpha_wgan(args.preset, tuple(args.shape), fp32_last_layer=fp32_last)
    for k, net in nets.items():
        net.load_state_dict(state[k])
    nets = {k: n.to(device) for k, n in nets.items()}
    opts = [torch.optim.Adam(nets[k].parameters(), 1e-4, betas=(0.5, 0.999)) for k in ("generator", "critic", "encoder", "code_critic")]
    trainer = AlphaWGANTrainer(device, 1, [{"image": images}], nets["generator"], nets["critic"], nets["encoder"],
                               nets["code_critic"], *opts, epoch_length=1, batch_size=args.batch, n_critic=args.n_critic,
                               precision=precision)
    torch.manual_seed(1)  # the same codes and penalty weights in every precision
    (out,) = trainer._iteration(trainer, {"image": images})
    result = {k: float(out[k]) for k in KEYS}
    del trainer, nets, opts
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--shape", type=int, nargs=3, default=(128, 128, 64))
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--n-critic", type=int, default=4)
    parser.add_argument("--precisions", nargs="+", default=("bf16",), help="compared with fp32 (default: bf16)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    state = {k: {n: t.clone() for n, t in net.state_dict().items()} for k, net in build_alpha_wgan(args.preset, tuple(args.shape)).items()}
    images = (torch.rand(args.batch * (1 + args.n_critic), 28, *args.shape) * 2 - 1).to(device)
    runs = {"fp32": first_iteration(args, state, images, "fp32", False, device)}
    for precision in args.precisions:
        runs[precision] = first_iteration(args, state, images, precision, False, device)
        runs[f"{precision}+fp32last"] = first_iteration(args, state, images, precision, True, device)
    print(f"{args.preset} preset, grid {tuple(args.shape)}, batch {args.batch}: first-iteration losses, relative "
          f"difference to fp32 (on {device})")
    print(f"{'loss':10s} {'fp32':>14s} " + " ".join(f"{name:>16s}" for name in runs if name != "fp32"))
    for key in KEYS:
        ref = runs["fp32"][key]
        diffs = [abs(r[key] - ref) / max(abs(ref), 1e-12) for name, r in runs.items() if name != "fp32"]
        print(f"{key:10s} {ref:14.6g} " + " ".join(f"{d:16.2e}" for d in diffs))
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
