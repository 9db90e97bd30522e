# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 03 - Training the alpha-WGAN bundle, generating subjects, reusing the bundle from another program
#
# The model lives in a MONAI bundle (`bundle/`): `configs/train.json` (the paper's networks and schedule),
# `configs/inference.json`, `configs/multi_gpu_train.json` and `configs/demo.json` (a small preset for CPUs).
# From a shell you would run
#
#     python -m monai.bundle run training --config_file "['bundle/configs/train.json','bundle/configs/demo.json']" \
#         --work_dir OUT --dataset_dir DATASET --normalization_file DATASET/sh_stats.json
#     python -m monai.bundle run inference --config_file "['bundle/configs/inference.json','bundle/configs/demo.json']" \
#         --work_dir OUT --num_samples 8
#
# Training writes OUT/training/ (model.pt, checkpoints/, losses, samples); inference samples that model into
# OUT/synthetic/. Nothing is written into the bundle.
#
# Here the same bundle is driven from Python, the way MONAI Label and other pipelines reuse bundles.
# Run: `python tutorials/03_train_and_generate.py [OUTPUT_DIR]`.

# %%
import json
import sys
from pathlib import Path

import torch
from monai.bundle import ConfigWorkflow

from monai_fodgan.bundle_paths import source_bundle
from monai_fodgan.data.phantom import make_population
from monai_fodgan.inference import load_bundle, sample_images
from monai_fodgan.io import load_fod, save_fod
from monai_fodgan.prepare import DWIInput, PrepareConfig, prepare_cohort
from monai_fodgan.visualize import plot_fod_slices

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tutorial_output")
bundle = source_bundle()
configs = bundle / "configs"

# %% [markdown]
# ## A training set
# Ten phantom subjects; here their ground-truth FODs go straight into preparation (a `fod` input, as for
# FODs you already computed with MRtrix3). Preparation writes `datalist.json` and `sh_stats.json`.

# %%
phantom = make_population(out / "phantom", n=10, shape=(32, 32, 16), seed=11)
fods = sorted((phantom / "derivatives" / "phantom").glob("sub-*/*_fod.nii.gz"))
subjects = [DWIInput(subject=p.name.split("_")[0], fod=p) for p in fods]
dataset = out / "dataset"
prepare_cohort(subjects, PrepareConfig(out=dataset, shape=(32, 32, 16), n_val=2, seed=0, jobs=2), progress=False)
print(json.loads((dataset / "datalist.json").read_text())["training"][:2])

# %% [markdown]
# ## Training from Python
# `ConfigWorkflow` parses the bundle with overrides; `initialize`/`run`/`finalize` are what
# `python -m monai.bundle run training` does. The `tiny` preset, this tutorial's 32 x 32 x 16 grid (`demo.json`'s is
# the 56 x 64 x 56 demo grid) and six iterations keep this a few seconds long; it only shows the mechanics (the
# paper trained 37,000 iterations).

# %%
training = out / "training"
workflow = ConfigWorkflow(
    config_file=[str(configs / "train.json"), str(configs / "demo.json")], workflow_type="train",
    preset="tiny", spatial_shape=[32, 32, 16], dataset_dir=str(dataset), normalization_file=str(dataset / "sh_stats.json"),
    output_dir=str(training), checkpoint_file=str(training / "model.pt"), max_iterations=6, epoch_length=3,
    sample_every=3, log_every=3,
)
workflow.initialize()
print("missing bundle properties:", workflow.check_properties())
workflow.run()
workflow.finalize()
print("trained:", sorted(p.name for p in training.iterdir()))

# %% [markdown]
# ## Generating from the model you trained
# `load_bundle` returns the generator with its weights, the normalisation statistics and the training grid.

# %%
mine = load_bundle(bundle, config_file=[configs / "inference.json", configs / "demo.json"], model_file=training / "model.pt",
                   preset="tiny", spatial_shape=[32, 32, 16])
fod = mine.normalization.denormalize(sample_images(mine.generator, 1, seed=0), channel_dim=1)[0]
save_fod(fod, out / "synthetic" / "sub-synth0001.nii.gz", affine=mine.affine)
print("a synthetic subject:", tuple(fod.shape), "on the training grid")

# %% [markdown]
# ## The demo model shipped with the bundle
# `model_file=bundle/models/model.pt` is the model shipped with the bundle: the demo preset trained for thousands
# of iterations on the phantom population (`scripts/train_demo_model.sh`). Its samples look like brains; the
# six-iteration model above does not yet. (Without `model_file`, the config's `checkpoint_file` is used: the model
# that training wrote to `work_dir`, with `demo.json` the main job's `demo_output/training/model.pt`.)

# %%
shipped_grid = torch.load(bundle / "models" / "model.pt", weights_only=True)["grid"]["spatial_shape"]  # its training grid
shipped = load_bundle(bundle, config_file=[configs / "inference.json", configs / "demo.json"], model_file=bundle / "models" / "model.pt",
                      spatial_shape=list(shipped_grid))
samples = shipped.normalization.denormalize(sample_images(shipped.generator, 3, seed=1), channel_dim=1)
real = load_fod(dataset / json.loads((dataset / "datalist.json").read_text())["training"][0]["image"])
plot_fod_slices([real, fod, *samples], ["real (phantom)", "after 6 iterations", "shipped model 1", "shipped model 2",
                                        "shipped model 3"], out / "generated_slices.png")
print(f"shipped model: {shipped.iteration} iterations; figure {out / 'generated_slices.png'}")
