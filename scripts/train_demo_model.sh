#!/usr/bin/env bash
# Reproduce the demo model shipped in bundle/models/ (demo_checkpoint.pt, model.pt, demo_sh_stats.json):
#   bash scripts/train_demo_model.sh [WORK_DIR] [ITERATIONS] [SUBJECTS]
# A 64-subject phantom population (seed 100) on the demo grid (56 x 64 x 56, 3.125 mm), prepared with MRtrix3 (DIPY
# without it) with the cohort crop widened to isotropic voxels, then the bundle's demo preset trained from scratch
# into WORK_DIR/training. On a GPU, add --device cuda:0 to the training command (CPU figures: bundle/docs/README.md).
# The shipped files' log is bundle/docs/demo_training_log.txt.
# The shipped files are replaced only when INSTALL=1 is set (INSTALL=1 bash scripts/train_demo_model.sh ...).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-demo_model_work}"
ITERATIONS="${2:-3300}"
SUBJECTS="${3:-64}"
bash scripts/setup_env.sh >/dev/null
PY=.venv/bin/python
$PY -m monai_fodgan.data.phantom --out "$WORK/phantom" --n "$SUBJECTS" --shape 56 64 56 --seed 100
$PY -m monai_fodgan.prepare --bids "$WORK/phantom" --out "$WORK/dataset" --shape 56 64 56 --isotropic --val 8 --seed 0 --jobs 2
$PY -m monai.bundle run training --config_file "['bundle/configs/train.json','bundle/configs/demo.json']" \
    --work_dir "$WORK" --dataset_dir "$WORK/dataset" --normalization_file "$WORK/dataset/sh_stats.json" \
    --max_iterations "$ITERATIONS" --checkpoint_every_epochs 10 --sample_every 250 --log_every 50
LAST=$(ls "$WORK"/training/checkpoints/checkpoint_*.pt | sort | tail -n 1)
if [ "${INSTALL:-0}" = "1" ]; then
    cp "$LAST" bundle/models/demo_checkpoint.pt
    cp "$WORK/training/model.pt" bundle/models/model.pt
    cp "$WORK/dataset/sh_stats.json" bundle/models/demo_sh_stats.json
    echo "demo model installed in bundle/models/ (from $LAST)"
else
    echo "demo model: $WORK/training/model.pt, full state: $LAST, statistics: $WORK/dataset/sh_stats.json"
    echo "(the shipped bundle/models/ are unchanged; INSTALL=1 replaces them)"
fi
