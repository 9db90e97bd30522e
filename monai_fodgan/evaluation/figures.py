"""PNG figures of an evaluation, in the spirit of the paper's Fig. 2-8 (each function writes one figure).

Colours as in the paper: synthetic red, reference (the paper's validation set) blue, synthetic-reference pairs
green. Slices and projections are drawn in world millimetres (RAS: x, the subject's left-to-right axis,
increases to the right of the picture) with their true aspect ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_fodgan.io import atomic_output

__all__ = [
    "COLOURS", "plot_histograms", "plot_distributions", "plot_connectomes", "plot_dice", "plot_tract_volumes",
    "plot_profiles", "plot_regional_bias", "plot_registration", "plot_tracts", "panels", "save_figure",
]

COLOURS = {"synthetic": "tab:red", "reference": "tab:blue", "between": "tab:green", "training": "tab:gray"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(n: int, ncols: int, width: float, height: float) -> tuple:
    """A figure of ``n`` panels in rows of ``ncols`` (cells beyond ``n`` hidden): (figure, list of the n axes)."""
    plt = _pyplot()
    nrows = int(np.ceil(n / ncols))
    figure, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return figure, list(axes.flat[:n])


def _save(fig, path: str | Path, dpi: int = 80, tight: bool = True) -> Path:
    """Write ``fig`` as PNG (atomically) and close it; ``tight=False`` keeps the figure's own margins (a figure of
    many small panels lays itself out with ``subplots_adjust``: tight_layout measures every tick label, seconds)."""
    plt = _pyplot()
    if tight:
        fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return Path(path)


def plot_histograms(edges: np.ndarray, counts: dict[str, np.ndarray], path: str | Path, ncols: int = 7) -> Path:
    """Voxel histograms of every SH coefficient (log scale), one panel per coefficient (paper Fig. 3B / 4B).

    Args:
        edges: (C, B + 1) bin edges.
        counts: group -> (C, B) voxel counts.
    """
    fig, axes = _panels(edges.shape[0], ncols, 2.3, 1.9)
    for c, ax in enumerate(axes):
        centres = (edges[c, 1:] + edges[c, :-1]) / 2
        for group, hist in counts.items():
            ax.step(centres, np.maximum(hist[c], 0.5), where="mid", color=COLOURS.get(group, "k"), lw=0.9, label=group)
        ax.set_yscale("log")
        ax.set_title(f"volume {c + 1}", fontsize=7)
        ax.tick_params(labelsize=5)
    axes[0].legend(fontsize=5)
    fig.suptitle("Voxel values of each SH coefficient (MRtrix3 volume order), all voxels of all subjects", fontsize=9)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.04, top=0.92, wspace=0.3, hspace=0.5)
    return _save(fig, path, tight=False)


def plot_distributions(panels: Sequence[tuple[str, dict[str, Sequence[float]]]], path: str | Path,
                       ncols: int | None = None, title: str | None = None) -> Path:
    """Overlaid histograms of values per group, one panel per (panel title, {group: values})."""
    fig, axes = _panels(len(panels), ncols or min(len(panels), 3), 4.0, 2.8)
    for ax, (panel_title, groups) in zip(axes, panels):
        finite = {g: np.asarray(v, dtype=float)[np.isfinite(np.asarray(v, dtype=float))] for g, v in groups.items()}
        pooled = np.concatenate([v for v in finite.values() if v.size]) if any(v.size for v in finite.values()) else np.zeros(0)
        if pooled.size == 0:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        else:
            lo, hi = pooled.min(), pooled.max()
            bins = np.linspace(lo, hi if hi > lo else lo + 1e-9, 20)
            for g, v in finite.items():
                if v.size:
                    ax.hist(v, bins=bins, alpha=0.5, color=COLOURS.get(g, "k"), label=f"{g} (n={v.size})")
            ax.legend(fontsize=6)
        ax.set_title(panel_title, fontsize=8)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_connectomes(examples: Sequence[tuple[str, np.ndarray]], path: str | Path) -> Path:
    """Connectome matrices (AAL order) on a log colour scale (paper Fig. 5 / 6A)."""
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(examples), figsize=(3.6 * len(examples), 3.4), squeeze=False)
    positive = np.concatenate([m[m > 0] for _, m in examples]) if any((m > 0).any() for _, m in examples) else np.ones(1)
    norm = LogNorm(vmin=max(float(np.percentile(positive, 1)), 1e-12), vmax=float(positive.max()))
    for ax, (title, matrix) in zip(axes[0], examples):
        shown = np.where(matrix > 0, matrix, np.nan)
        im = ax.imshow(shown, norm=norm, cmap="viridis", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8)
    fig.suptitle("Normalised connectomes (116 AAL regions; elements sum to 2)", fontsize=9)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)


def plot_dice(dice: dict[str, dict[str, Sequence[float]]], title: str, path: str | Path, ncols: int = 4) -> Path:
    """Dice distributions per tract: synthetic-synthetic, reference-reference, synthetic-reference (paper Fig. 7B)."""
    return plot_distributions([(tract, groups) for tract, groups in dice.items()], path, ncols=ncols, title=title)


def plot_tract_volumes(volumes: dict[str, dict[str, Sequence[float]]], path: str | Path) -> Path:
    """Tract volumes, mean +- sd per set sorted by the reference mean, and their ratio (paper Fig. 8A-B)."""
    plt = _pyplot()
    tracts = sorted(volumes, key=lambda t: np.mean(volumes[t]["reference"]) if len(volumes[t]["reference"]) else 0)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.4))
    x = np.arange(len(tracts))
    for g, shift in (("synthetic", -0.1), ("reference", 0.1)):
        means = [np.mean(volumes[t][g]) if len(volumes[t][g]) else np.nan for t in tracts]
        sds = [np.std(volumes[t][g]) if len(volumes[t][g]) else np.nan for t in tracts]
        ax.errorbar(x + shift, np.asarray(means) / 1000, yerr=np.asarray(sds) / 1000, fmt="o", color=COLOURS[g], label=g)
    ax.set_xticks(x, tracts, rotation=45, fontsize=7)
    ax.set_ylabel("volume (cm^3)")
    ax.legend(fontsize=7)
    ratio = [np.mean(volumes[t]["synthetic"]) / np.mean(volumes[t]["reference"]) if np.mean(volumes[t]["reference"]) > 0
             else np.nan for t in tracts]
    bx.bar(x, ratio, color="tab:purple")
    bx.axhline(1.0, color="k", lw=0.8)
    bx.axhline(0.92, color="tab:gray", ls="--", lw=0.8, label="paper: 0.92")
    bx.set_xticks(x, tracts, rotation=45, fontsize=7)
    bx.set_ylabel("mean volume synthetic / reference")
    bx.legend(fontsize=7)
    return _save(fig, path)


def plot_profiles(profiles: dict[str, dict[str, dict[str, Sequence[float]]]], path: str | Path, ncols: int = 4) -> Path:
    """Apparent fibre density along each tract, mean +- sd over subjects per set (paper Fig. 8C)."""
    tracts = list(profiles)
    fig, axes = _panels(len(tracts), ncols, 3.3, 2.4)
    for ax, tract in zip(axes, tracts):
        for g, prof in profiles[tract].items():
            mean, sd = np.asarray(prof["mean"], dtype=float), np.asarray(prof["sd"], dtype=float)
            if mean.size:
                pos = np.linspace(0, 100, mean.size)
                ax.plot(pos, mean, color=COLOURS.get(g, "k"), lw=1, label=g)
                ax.fill_between(pos, mean - sd, mean + sd, color=COLOURS.get(g, "k"), alpha=0.2)
        ax.set_title(tract, fontsize=8)
        ax.set_xlabel("position along tract (%)", fontsize=6)
        ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=6)
    fig.suptitle("Apparent fibre density (c00 sqrt(4 pi)) along tracts", fontsize=9)
    return _save(fig, path)


def plot_regional_bias(parcels: Sequence[str], d_mean: Sequence[float], d_sd: Sequence[float], path: str | Path) -> Path:
    """Eq. 5 relative differences of AFD mean and sd per AAL parcel."""
    plt = _pyplot()
    x = np.arange(len(parcels))
    fig, axes = plt.subplots(2, 1, figsize=(14, 5), sharex=True)
    for ax, values, label, ref in ((axes[0], d_mean, "relative difference of mean AFD", 0.05),
                                   (axes[1], d_sd, "relative difference of AFD sd", 0.20)):
        v = np.asarray(values, dtype=float)
        colours = ["tab:orange" if ("Cerebelum" in p or "Vermis" in p) else "tab:purple" for p in parcels]
        ax.bar(x, np.nan_to_num(v), color=colours)
        ax.axhline(ref, color="tab:gray", ls="--", lw=0.8, label=f"paper, outside the cerebellum: < {ref:.0%}")
        ax.set_ylabel(label, fontsize=7)
        ax.legend(fontsize=7)
    axes[1].set_xticks(x, parcels, rotation=90, fontsize=4)
    fig.suptitle("Regional bias per AAL parcel, |a - b| / (a + b) (orange: cerebellum)", fontsize=9)
    return _save(fig, path)


def _extent(affine: np.ndarray, shape: Sequence[int], a: int, b: int) -> list[float]:
    """imshow extent (world mm) of a slice spanning voxel axes a (horizontal) and b (vertical); axis-aligned grids."""
    lo = affine[:3, 3] - np.abs(np.diag(affine)[:3]) / 2
    hi = lo + np.abs(np.diag(affine)[:3]) * np.asarray(shape)
    return [lo[a], hi[a], lo[b], hi[b]]


def plot_registration(afd: np.ndarray, warped: np.ndarray, aal: np.ndarray, affine: np.ndarray, title: str,
                      path: str | Path) -> Path:
    """Registration quality: the subject's AFD (grey) with the registered template's outline (yellow, at 20 % of its
    maximum) and the AAL parcels it carries (colours), middle slices in three planes."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    planes = (("axial", 2, (0, 1)), ("coronal", 1, (0, 2)), ("sagittal", 0, (1, 2)))
    for ax, (name, axis, (a, b)) in zip(axes, planes):
        k = afd.shape[axis] // 2
        sl = [slice(None)] * 3
        sl[axis] = k
        ext = _extent(affine, afd.shape, a, b)
        ax.imshow(afd[tuple(sl)].T, origin="lower", cmap="gray", extent=ext, vmin=0,
                  vmax=float(np.percentile(afd[afd > 0], 99)) if (afd > 0).any() else 1)
        labels = aal[tuple(sl)].T
        ax.imshow(np.ma.masked_where(labels == 0, labels % 20), origin="lower", cmap="tab20", alpha=0.35, extent=ext,
                  interpolation="nearest")
        w = warped[tuple(sl)].T.astype(np.float32)
        if np.ptp(w) > 0:
            ax.contour(w, levels=[0.2 * float(w.max())], colors="yellow", linewidths=0.8, origin="lower", extent=ext)
        ax.set_title(f"{name}", fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_tracts(previews: dict[str, np.ndarray], afd: np.ndarray, affine: np.ndarray, title: str, path: str | Path) -> Path:
    """A subject's tracts (a few streamlines each) over its AFD in three projections (paper Fig. 7A)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    colours = plt.cm.tab20(np.linspace(0, 1, max(len(previews), 2)))
    planes = (("axial projection", 2, (0, 1)), ("coronal projection", 1, (0, 2)), ("sagittal projection", 0, (1, 2)))
    for ax, (name, axis, (a, b)) in zip(axes, planes):
        projection = afd.max(axis=axis)
        ax.imshow(projection.T, origin="lower", cmap="gray", extent=_extent(affine, afd.shape, a, b), vmin=0,
                  vmax=float(np.percentile(projection[projection > 0], 99)) if (projection > 0).any() else 1)
        for (tract, lines), colour in zip(previews.items(), colours):
            for k, line in enumerate(lines):
                ax.plot(line[:, a], line[:, b], color=colour, lw=0.6, alpha=0.8, label=tract if k == 0 else None)
        ax.set_title(name, fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center right", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)


#: public names of the layout helpers, for the other systems' reports (DeepTaskGen's :mod:`monai_fodgan.taskgen.report`)
panels = _panels
save_figure = _save
