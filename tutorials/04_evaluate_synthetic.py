# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 04 - Are synthetic FODs anatomically valid? The paper's validation, and more
#
# Vellmer et al. (2025) validated their synthetic FODs against 100 held-out real subjects: voxel statistics,
# whole-brain tractography and AAL connectomes (global efficiency, Mantel correlations), and single tracts (Dice,
# volumes, fibre density along the tract). `monai_fodgan.evaluation` does all of it, adds what users of 3D
# generative models expect (diversity, MMD, a memorisation check), and writes `metrics.json`, figures and a
# self-contained `report.html`. From a shell:
#
#     python -m monai_fodgan.evaluate --synthetic SYNTHETIC_DIR --reference dataset/datalist.json \
#         --training dataset/datalist.json --out report --jobs 4
#     python -m monai.bundle run evaluate --config_file bundle/configs/evaluate.json --dataset_dir dataset
#
# Here: four subjects drawn from the demo model shipped with the bundle, against three phantom subjects, with
# small streamline counts so it runs in a couple of minutes on two CPU cores.
# Run: `python tutorials/04_evaluate_synthetic.py [OUTPUT_DIR]`.

# %%
import json
import shutil
import sys
from pathlib import Path

from monai_fodgan.bundle_paths import source_bundle
from monai_fodgan.data.phantom import make_population, mni_box
from monai_fodgan.evaluation import EvaluationConfig, run_evaluation
from monai_fodgan.inference import load_bundle, sample_images
from monai_fodgan.io import save_fod
from monai_fodgan.prepare.standardise import resample_fod_to_box

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tutorial_output")
shape = (32, 32, 16)

# %% [markdown]
# ## The sets
# Seven phantom subjects (brains in MNI space with known bundles and AAL labels): three are the REFERENCE set
# (the paper's validation subjects), four the TRAINING set (only used to check that the model does not copy
# training subjects).

# %%
phantom = make_population(out / "phantom", n=7, shape=shape, seed=21, dwi=False)
sets = {name: out / name for name in ("reference", "training", "synthetic")}
for folder in sets.values():
    folder.mkdir(parents=True, exist_ok=True)
for k in range(1, 8):
    name = f"sub-{k:04d}"
    shutil.copy(phantom / "derivatives" / "phantom" / name / f"{name}_fod.nii.gz",
                sets["reference" if k <= 3 else "training"] / f"{name}.nii.gz")

# %% [markdown]
# ## Synthetic subjects
# Drawn from the bundle's shipped demo model. Voxelwise comparisons need every image on ONE grid: the model's
# samples live on its training grid, so they are resampled onto the phantom's (FOD coefficients are in the world
# frame, so resampling needs no SH reorientation).

# %%
model = load_bundle(source_bundle(), config_file=[source_bundle() / "configs" / f for f in ("inference.json", "demo.json")],
                    model_file=source_bundle() / "models" / "demo_model.pt")  # the shipped demo model
samples = model.normalization.denormalize(sample_images(model.generator, 4, seed=3), channel_dim=1)
for k, fod in enumerate(samples, start=1):
    on_grid, affine = resample_fod_to_box(fod, model.affine, mni_box(), shape)
    save_fod(on_grid, sets["synthetic"] / f"sub-synth{k:04d}.nii.gz", affine=affine)
print(sorted(p.name for p in sets["synthetic"].iterdir()))

# %% [markdown]
# ## The evaluation
# `backend="auto"` tracks with MRtrix3 when it is installed (iFOD2 and FACT, SIFT2 weights) and with DIPY
# otherwise. `template="phantom"` registers the phantom's own AFD template to every subject (for real data the
# default is the MNI152 white-matter map, or pass your own MNI-space FOD template); `truth` compares reference
# subjects with the phantom's ground truth. The paper's counts (5 million streamlines, 2000 per tract) would take
# hours here; these take a couple of minutes.

# %%
cfg = EvaluationConfig(synthetic=sets["synthetic"], reference=sets["reference"], training=sets["training"],
                       out=out / "evaluation", template="phantom", truth=phantom, tracts=("CC", "CST_L", "CST_R", "OR_L", "OR_R"),
                       streamlines=1000, tract_streamlines=100, tract_seeds=20, mantel_permutations=99,
                       mmd_permutations=99, jobs=2, progress=False)
metrics = run_evaluation(cfg)
figures = cfg.out / "figures"

# %% [markdown]
# ## Reading the figures
# **`fod_examples.png`** (paper Fig. 1): the l = 0 map and the direction of the largest FOD peak (red left-right,
# green front-back, blue up-down). Real and synthetic subjects should show the same bundles in the same colours.
#
# **`histograms.png`** (paper Fig. 3B): every SH coefficient's voxel values, log scale. Synthetic tails beyond the
# reference range are implausible values; the l = 0 panel shows negative values, which real FODs never have:

# %%
negative = metrics["fod"]["negative_l0_fraction"]
print(f"voxels with negative l = 0: synthetic {negative['synthetic']['mean']:.3f}, reference {negative['reference']['mean']:.3f}")

# %% [markdown]
# **`squared_differences.png`**: the paper's measure of variation, the sum of voxelwise squared differences of
# every pair. Within-synthetic pairs lower than within-reference pairs mean less variety than real subjects.

# %%
sq = metrics["fod"]["squared_differences"]
print(f"squared differences within synthetic {sq['synthetic']['mean']:.1f} +- {sq['synthetic']['sd']:.1f}, "
      f"within reference {sq['reference']['mean']:.1f} +- {sq['reference']['sd']:.1f}")

# %% [markdown]
# **`registration_*.png`**: how the atlas reached each subject: the template's outline should follow the brain,
# AAL parcels should sit on grey matter. On the phantom we know the true labels:

# %%
reg = metrics["registration"]["reference"]
print(f"AAL label Dice vs the truth: {reg['truth_aal_dice']['mean']:.2f} registered, "
      f"{reg['truth_aal_dice_without_registration']['mean']:.2f} without registration")

# %% [markdown]
# **`connectomes_*.png`** and **`network_*.png`** (paper Fig. 5-6): normalised AAL connectomes, their weighted
# global efficiency (compared by a Mann-Whitney U test) and Mantel correlations between pairs of connectomes.
#
# **`dice_*.png`, `volumes_*.png`, `profiles_*.png`, `tracts_*.png`** (paper Fig. 7-8): tract masks compared by
# Dice in the three groups of pairs, tract volumes, and fibre density along each tract. Tracts a synthetic subject
# lacks (no streamline reached both ends) show up as zero volumes and zero Dice.

# %%
backend = metrics["backends"][0]
for tract in cfg.tracts:
    entry = metrics["tracts"][backend]["probabilistic"][tract]
    print(f"{tract:6s} Dice synthetic-reference {entry['dice']['between'].get('mean', float('nan')):.2f}, "
          f"reference-reference {entry['dice']['reference'].get('mean', float('nan')):.2f}; "
          f"volume ratio {entry['volume_mm3']['ratio_synthetic_to_reference']}")

# %% [markdown]
# **`generative.png`**: diversity (pairwise MS-SSIM of AFD maps; far above the reference distribution means mode
# collapse) and memorisation (distance to the nearest training subject; a synthetic subject closer than every
# held-out real subject is flagged).

# %%
g = metrics["generative"]
print(f"MS-SSIM synthetic {g['ms_ssim']['synthetic']['mean']:.3f}, reference {g['ms_ssim']['reference']['mean']:.3f}; "
      f"MMD^2 {g['mmd']['mmd2']:.3f} (p = {g['mmd']['p']:.3f}); flagged as memorised: {g['memorisation']['flagged']}")
print(f"report: {metrics['report']}")

# %% [markdown]
# All figures, with these explanations, are in the report; a few are copied next to this tutorial's outputs.

# %%
for name in ("fod_examples", "histograms", f"profiles_{backend}_probabilistic", f"tracts_{backend}_synthetic_sub-synth0001"):
    shutil.copy(figures / f"{name}.png", out / f"evaluation_{name}.png")
print(json.dumps({"figures": sorted(p.name for p in out.glob('*.png'))}, indent=1))
