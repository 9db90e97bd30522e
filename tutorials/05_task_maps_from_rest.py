# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 05 - Task-fMRI maps from resting-state fMRI (DeepTaskGen)
#
# The package's second system (Serin et al. 2025, Communications Biology 8:1572): a shallow 3D attention U-Net
# predicts a subject's task-contrast maps from K voxel-to-network connectivity maps of its rest fMRI, trained
# with a loss that keeps predictions individual. This tutorial runs the whole chain on the built-in synthetic
# population: data, preparation, training, prediction, and the comparison with the two baselines.
#
# Run: `python tutorials/05_task_maps_from_rest.py [OUTPUT_DIR]`.

# %%
import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.utils import set_determinism

from monai_fodgan.bundle_paths import source_bundle
from monai_fodgan.taskgen import (
    CRRLoss,
    TaskMapTrainer,
    evaluate_cohort,
    load_gm_mask,
    load_network_weights,
    predict_cohort,
    subject_correlation_matrix,
    task_network,
    taskgen_dataset,
)
from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
from monai_fodgan.taskgen.prepare import main as prepare

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tutorial_output")
set_determinism(0)

# %% [markdown]
# ## A population with known truth
# 48 subjects on an 8 mm MNI grid cropped to the brain (the shipped demo model was trained on subjects 1-40 of
# this population; 41-48 are new to it). K = 12 group networks are built from AAL regions;
# each subject has 3 latent factors that reshape its own network maps and their coupling. Its two rest runs
# (120 frames each) are generated from those maps, its 6 task maps are expressed through the same maps (plus
# noise), and its phenotype depends on the factors. With real data you would give preprocessed rest runs in
# MNI space, a group-ICA map set and your subjects' task contrasts instead.

# %%
spec = PopulationSpec()  # 8 mm, K = 12, C = 6, 2 runs x 120 frames
pop = make_population(out / "population", n=48, spec=spec)
print((pop / "subjects.tsv").read_text().splitlines()[:2])

# %% [markdown]
# ## Prepare
# Per subject: dual-regression stage 1 (each frame regressed on the group maps) gives K component time
# series; the Pearson r of every voxel with each is a connectivity map. `--window 60` also writes one map set
# per 60-frame sub-sample (the paper: 600 of HCP's 1,200), each a training sample; predictions are averaged
# over them. `--val-subjects` holds out subjects 41-48. The same command refuses bad inputs by name and skips
# finished subjects when re-run.

# %%
group = pop / "group"
prepared = out / "prepared"
prepare(["--table", str(pop / "subjects.tsv"), "--components", str(group / "components.nii.gz"),
         "--mask", str(group / "brain_mask.nii.gz"), "--gm-mask", str(group / "gm_mask.nii.gz"),
         "--window", "60", "--val-subjects", *[f"sub-{k:04d}" for k in range(41, 49)], "--out", str(prepared)])
datalist = json.loads((prepared / "datalist.json").read_text())
print(len(datalist["training"]), "training samples;", len(datalist["validation"]), "held-out subjects")

# %%
def axial(path: Path, volume: int, z: int | None = None) -> np.ndarray:
    data = np.asarray(nib.load(str(path)).dataobj)[..., volume]
    return np.rot90(data[:, :, data.shape[2] // 2 if z is None else z])


subject = datalist["validation"][0]["subject"]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
panels = [(group / "components.nii.gz", 0, "group network 1"),
          (prepared / "maps" / f"{subject}_conn.nii.gz", 0, f"{subject}: connectivity with network 1"),
          (prepared / "maps" / f"{subject}_conn_win-1.nii.gz", 0, "the same, first 60 frames"),
          (prepared / "task" / f"{subject}_task.nii.gz", 0, f"{subject}: task contrast 1")]
for ax, (path, volume, title) in zip(axes, panels):
    im = ax.imshow(axial(path, volume), cmap="RdBu_r")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.04)
fig.savefig(out / "taskgen_inputs.png", dpi=110, bbox_inches="tight")

# %% [markdown]
# ## Train
# The `demo` preset of the paper's network (16/32/64 features instead of 64/128/256) with the CRR loss:
# `MSE + alpha * max(0, MSE - C_other + margin)` inside the grey-matter mask, alpha = 0.25. `C_other` is each
# prediction's error against the OTHER subjects' maps in the batch: the hinge pushes predictions to be closer
# to their own subject than to the others. Two epochs here show the trainer at work; the bundle
# `taskgen_bundle` runs the same trainer from configs, and its shipped demo model (20 epochs on subjects
# 1-40, `taskgen_bundle/docs/demo_training_log.txt`) is used for the comparison below.

# %%
torch.manual_seed(0)
loader = DataLoader(taskgen_dataset(prepared), batch_size=10, shuffle=True, drop_last=True, num_workers=0)
net = task_network("demo")
trainer = TaskMapTrainer("cpu", 2, loader, net, torch.optim.Adam(net.parameters(), 1e-3),
                         CRRLoss(load_gm_mask(prepared), alpha=0.25))
history = []
trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: history.append(e.state.output))
trainer.run()
fig, ax = plt.subplots(figsize=(6, 3.5))
for key in ("loss", "recon", "other"):
    ax.plot([h[key] for h in history], label=key)
ax.set_yscale("log")
ax.set_xlabel("iteration")
ax.legend()
ax.set_title("CRR loss, its reconstruction term and the other-subject error")
fig.savefig(out / "taskgen_training.png", dpi=110, bbox_inches="tight")
print(f"loss {history[0]['loss']:.3f} -> {history[-1]['loss']:.3f}")

# %% [markdown]
# ## Predict and compare
# With the shipped demo model. Each held-out subject's prediction is the mean over its sub-samples. The baselines: the training subjects'
# group-average map (the same for everyone: no individual information, diagonality 0 by construction) and
# Tavor-style linear regression on the connectivity maps. Identification: is a subject's prediction most
# correlated with its own actual map (top-1; chance 1/8)?

# %%
shipped = load_network_weights(task_network("demo"), source_bundle("taskgen_bundle") / "models" / "demo_model.pt")
predict_cohort(shipped, prepared, out / "predictions", split="validation")
metrics = evaluate_cohort(prepared, out / "predictions")
for name in ("model", "group_average", "tavor"):
    m = metrics[name]["mean"]
    print(f"{name:14s} r {m['pearson_r']:.3f}  diagonality {m['diagonality']:.4f}  top-1 {m['top1']:.2f}  "
          f"Dice-AUC {m['dice_auc']:.3f}")

mask = load_gm_mask(prepared).numpy()
held_out = [e["subject"] for e in datalist["validation"]]
actual = np.stack([np.asarray(nib.load(str(prepared / "task" / f"{s}_task.nii.gz")).dataobj)[mask][:, 0] for s in held_out])
pred = np.stack([np.asarray(nib.load(str(out / "predictions" / f"{s}_pred.nii.gz")).dataobj)[mask][:, 0] for s in held_out])
fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
for ax, (title, p) in zip(axes, [("demo model", pred), ("their mean map", np.repeat(actual.mean(0, keepdims=True), 8, 0))]):
    im = ax.imshow(subject_correlation_matrix(p, actual), cmap="viridis")
    ax.set_title(f"{title}: corr(predicted i, actual j), contrast 1", fontsize=9)
    ax.set_xlabel("actual subject j")
    ax.set_ylabel("predicted subject i")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.tight_layout()
fig.savefig(out / "taskgen_identification.png", dpi=110, bbox_inches="tight")
