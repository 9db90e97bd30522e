"""One Markdown table of what ``benchmarks/gpu_check.sh`` measured: ``python benchmarks/gpu_table.py OUTDIR``.

Reads the JSON files the benchmarks wrote (paper.json, demo.json, precision.json, generation.json) and the loader
log; a part that did not finish is listed as missing, not left out silently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def training_table(title: str, data: dict | None) -> list[str]:
    if data is None:
        return [f"### {title}", "", "not measured (the part did not finish; see its log)", ""]
    a = data["args"]
    lines = [f"### {title}: {a['preset']} preset, grid {tuple(a['shape'])}, batch {a['batch']}, {a['precision']}, "
             f"cuDNN {a['cudnn']}, {data['device']}, torch {data['torch']}", "",
             "| configuration | s/iteration | samples/s | peak GiB | TFLOP/iteration | TFLOP/s | speed-up |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    base = next((r for r in data["rows"] if "seconds" in r), None)
    for r in data["rows"]:
        if "seconds" not in r:
            lines.append(f"| {r['config']} | {r.get('skipped') or 'failed: ' + str(r.get('error'))} | | | | | |")
            continue
        lines.append(f"| {r['config']} | {r['seconds']:.3f} | {r['samples_per_second']:.1f} | {r['peak_gib']:.1f} | "
                     f"{r['tflop_per_iteration']:.3g} | {r['tflops']:.3g} | {base['seconds'] / r['seconds']:.2f}x |")
    kernels = [(r["config"], r["top_kernels"]) for r in data["rows"] if r.get("top_kernels")]
    for config, top in kernels:
        lines.append("")
        lines.append(f"Top kernels, {config}: " + "; ".join(top))
    return lines + [""]


def precision_table(data: dict | None) -> list[str]:
    if data is None:
        return ["### bf16 against fp32", "", "not measured", ""]
    runs = data["runs"]
    names = [n for n in runs if n != "fp32"]
    lines = ["### First-iteration losses: relative difference to fp32", "",
             "| loss | fp32 | " + " | ".join(names) + " |", "| --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for key, ref in runs["fp32"].items():
        diffs = [abs(runs[n][key] - ref) / max(abs(ref), 1e-12) for n in names]
        lines.append(f"| {key} | {ref:.6g} | " + " | ".join(f"{d:.1e}" for d in diffs) + " |")
    return lines + [""]


def generation_table(data: dict | None) -> list[str]:
    if data is None:
        return ["### Generation", "", "not measured", ""]
    lines = [f"### Generation: {data['preset']} preset, grid {tuple(data['shape'])}, {data['device']} "
             "(volumes per second, copy to host included)", "", "| implementation | batch | volumes/s |", "| --- | --- | --- |"]
    lines += [f"| {r['implementation']} | {r['batch']} | {r['volumes_per_second']:.1f} |" for r in data["rows"]]
    return lines + [""]


def main() -> None:
    out = Path(sys.argv[1])
    machine = (out / "machine.txt").read_text().strip() if (out / "machine.txt").is_file() else "unknown machine"
    lines = [f"## GPU check: {machine}", ""]
    lines += training_table("Training, paper scale", _load(out / "paper.json"))
    lines += training_table("Training, demo scale", _load(out / "demo.json"))
    lines += precision_table(_load(out / "precision.json"))
    lines += generation_table(_load(out / "generation.json"))
    loader = out / "loader.log"
    lines += ["### Data path", "", "```", loader.read_text().strip() if loader.is_file() else "not measured", "```"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
