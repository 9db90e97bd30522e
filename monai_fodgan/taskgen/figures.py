"""PNG figures of a DeepTaskGen evaluation (each function writes one figure from ``metrics.json``'s numbers).

Methods in fixed colours: the model red, the group-average baseline grey, Tavor-style regression blue. Layout and
saving are the FOD report's (:mod:`monai_fodgan.evaluation.figures`), so both reports look alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_fodgan.evaluation.figures import panels, save_figure

__all__ = ["METHODS", "plot_baselines", "plot_dice_curves", "plot_matrices", "plot_per_contrast", "plot_phenotype"]

#: metrics.json key -> (label, colour)
METHODS = {"model": ("DeepTaskGen (ours)", "tab:red"), "group_average": ("group average", "tab:gray"),
           "tavor": ("Tavor regression", "tab:blue")}


def plot_per_contrast(metrics: dict, path: str | Path) -> Path:
    """Per-contrast mean Pearson r and diagonality index of the three methods, grouped bars."""
    fig, axes = panels(2, 2, 5.5, 3.2)
    c = metrics["contrasts"]
    width = 0.8 / len(METHODS)
    for ax, key, title in zip(axes, ("pearson_r", "diagonality"),
                              ("mean Pearson r, predicted vs actual (grey matter)", "diagonality index")):
        for i, (method, (label, colour)) in enumerate(METHODS.items()):
            ax.bar(np.arange(c) + (i - 1) * width, metrics[method][key], width, color=colour, label=label)
        ax.set_xticks(np.arange(c), [f"{k + 1}" for k in range(c)])
        ax.set_xlabel("contrast")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    return save_figure(fig, path)


def plot_baselines(metrics: dict, path: str | Path) -> Path:
    """The four summary measures (means over contrasts) of the model beside both baselines."""
    fig, axes = panels(4, 4, 3.0, 3.0)
    labels = [METHODS[m][0].replace(" (ours)", "") for m in METHODS]
    for ax, (key, title) in zip(axes, [("pearson_r", "mean Pearson r"), ("diagonality", "diagonality index"),
                                       ("top1", "top-1 identification"), ("dice_auc", "Dice-AUC (top 5-50%)")]):
        values = [metrics[m]["mean"][key] for m in METHODS]
        ax.bar(range(len(values)), values, color=[c for _, c in METHODS.values()])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
        if key == "top1":
            ax.axhline(metrics["model"]["chance_top1"], color="k", ls="--", lw=0.8, label="chance")
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(values)), labels, rotation=20, fontsize=7)
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_matrices(metrics: dict, path: str | Path) -> Path:
    """Subject x subject correlation of predicted (rows) vs actual (columns) maps, mean over contrasts, per method."""
    fig, axes = panels(len(METHODS), len(METHODS), 3.8, 3.4)
    mats = {m: np.asarray(metrics[m]["matrix"]) for m in METHODS}
    low, high = min(float(x.min()) for x in mats.values()), max(float(x.max()) for x in mats.values())
    for ax, (method, (label, _)) in zip(axes, METHODS.items()):
        im = ax.imshow(mats[method], vmin=low, vmax=high, cmap="viridis")
        m = metrics[method]["mean"]
        ax.set_title(f"{label}\ndiagonality {m['diagonality']:.3f}, top-1 {m['top1']:.2f}", fontsize=8)
        ax.set_xlabel("actual subject j", fontsize=7)
        ax.set_ylabel("predicted subject i", fontsize=7)
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def plot_dice_curves(metrics: dict, path: str | Path) -> Path:
    """Dice of the top-f voxels of predicted and actual maps against f, mean over subjects and contrasts."""
    fig, (ax,) = panels(1, 1, 5.0, 3.4)
    for method, (label, colour) in METHODS.items():
        m = metrics[method]
        ax.plot(np.asarray(m["dice_fractions"]) * 100, m["dice_curve"], "o-", color=colour, ms=3,
                label=f"{label} (AUC {m['mean']['dice_auc']:.3f})")
    ax.set_xlabel("top voxels (%)")
    ax.set_ylabel("Dice")
    ax.legend(fontsize=7)
    ax.set_title("Overlap of the most activated voxels", fontsize=9)
    return save_figure(fig, path)


def plot_phenotype(metrics: dict, path: str | Path) -> Path:
    """Cross-validated R^2 of the phenotype from three feature sets, and predicted vs true phenotype for two."""
    p = metrics["phenotype_r2"]
    names = [("predicted_maps", "predicted maps", "tab:red"), ("actual_maps", "actual maps", "tab:green"),
             ("rest_connectome", "rest connectome", "tab:blue")]
    fig, (bars, scatter) = panels(2, 2, 4.6, 3.4)
    values = [p[k] for k, _, _ in names]
    bars.bar(range(3), values, color=[c for _, _, c in names])
    for i, v in enumerate(values):
        bars.text(i, v, f"{v:.3f}", ha="center", va="bottom" if v >= 0 else "top", fontsize=7)
    bars.set_xticks(range(3), [n for _, n, _ in names], fontsize=7)
    bars.set_ylabel("out-of-fold R^2")
    bars.set_title(f"ridge, {p['folds']}-fold CV: {p['phenotype']}", fontsize=9)
    target = np.asarray(p["target"])
    for key, label, colour in names[:2]:
        scatter.scatter(target, p["predicted"][key], s=12, color=colour, label=label)
    span = [float(target.min()), float(target.max())]
    scatter.plot(span, span, "k--", lw=0.8)
    scatter.set_xlabel(f"true {p['phenotype']}")
    scatter.set_ylabel("predicted (out of fold)")
    scatter.legend(fontsize=7)
    return save_figure(fig, path)
