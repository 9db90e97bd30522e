# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 02 - Preparing an HCP-style cohort
#
# A training set for the FOD GAN is a folder of FOD images on one grid, in MRtrix3's SH basis and the world
# frame, with a datalist, normalisation statistics and a record of how each subject was made. This tutorial
# builds one from a small phantom cohort laid out like HCP downloads (one DWI with FSL `bval`/`bvec` and a
# brain mask per subject), exactly as you would for real data.
#
# Run: `python tutorials/02_prepare_cohort.py [OUTPUT_DIR]`.

# %%
import json
import sys
from pathlib import Path

from monai_fodgan.data.phantom import make_population
from monai_fodgan.io import load_fod
from monai_fodgan.prepare import PrepareConfig, prepare_cohort, read_table
from monai_fodgan.transforms import NormalizeSH, SHNormalization
from monai_fodgan.visualize import plot_fod_slices

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tutorial_output")

# %% [markdown]
# ## A cohort on disk
# Six phantom subjects (brain-like FODs in MNI space, DWI simulated at b = 0/700/1200/2800 with real
# multi-tissue responses and Rician noise at SNR 30). With HCP data you would point at
# `<subject>/T1w/Diffusion/{data.nii.gz,bvals,bvecs,nodif_brain_mask.nii.gz}` instead.

# %%
cohort = make_population(out / "cohort", n=6, shape=(32, 32, 16), seed=3)
rows = ["subject,dwi,bval,bvec,mask"]
for dwi in sorted(cohort.glob("sub-*/dwi/*_dwi.nii.gz")):
    sid = dwi.name.split("_")[0]
    base = dwi.parent / sid
    rows.append(f"{sid},{dwi},{base}_dwi.bval,{base}_dwi.bvec,{base}_mask.nii.gz")
table = out / "subjects.csv"
table.write_text("\n".join(rows) + "\n")
print(table.read_text())

# %% [markdown]
# ## Prepare
# `backend="auto"` uses MRtrix3 (`dwi2response dhollander` + `dwi2fod msmt_csd`, lmax 6) when it is installed
# and DIPY's CSD otherwise. `crop="cohort"` keeps the box that holds every subject's brain (the paper kept
# slices with brain in any subject) and resamples it to the grid; `crop="hcp"` would apply the paper's fixed
# HCP slice ranges. The same from a shell:
# `python -m monai_fodgan.prepare --table subjects.csv --out dataset --shape 32 32 16 --jobs 2`.
# Subjects that already have FODs (HCP's `wm.mif`, lmax 8) go in a `fod` column: the first 28 volumes are
# their lmax-6 part.

# %%
cfg = PrepareConfig(out=out / "dataset", shape=(32, 32, 16), n_val=2, seed=0, jobs=2)
summary = prepare_cohort(read_table(table), cfg)
print(json.dumps({k: summary[k] for k in ("done", "skipped", "failed", "training", "validation")}, indent=1))

# %% [markdown]
# Re-running is cheap: a subject whose inputs and parameters hash to what was recorded is skipped.

# %%
again = prepare_cohort(read_table(table), cfg, progress=False)
print(f"second run: {again['skipped']} skipped, {again['done']} recomputed")

# %% [markdown]
# ## What was written
# `datalist.json` is a MONAI datalist (`monai.data.load_decathlon_datalist(path, data_list_key="training")`
# reads it); `sh_stats.json` holds one scale per SH band that maps the training set into the generator's
# [-1, 1] (per band, so rotation augmentation and normalisation commute).

# %%
datalist = json.loads((cfg.out / "datalist.json").read_text())
stats = SHNormalization.load(cfg.out / "sh_stats.json")
print("training:", [d["subject"] for d in datalist["training"]], "validation:", [d["subject"] for d in datalist["validation"]])
print("band scales (l = 0, 2, 4, 6):", [round(s, 4) for s in stats.scales])
first = load_fod(cfg.out / datalist["training"][0]["image"])
print("normalised range:", float(NormalizeSH(stats)(first).min()), float(NormalizeSH(stats)(first).max()))
sid = datalist["training"][0]["subject"]
truth = load_fod(cohort / "derivatives" / "phantom" / sid / f"{sid}_fod.nii.gz")
png = plot_fod_slices([truth, first], ["phantom ground truth", "prepared from its DWI"], out / "02_prepare_cohort.png")
print(f"wrote {png}")
