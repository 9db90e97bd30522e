#!/usr/bin/env bash
# Reproduce the demo model shipped in bundle/models/ (demo_checkpoint.pt, model.pt, demo_sh_stats.json):
#   bash scripts/train_demo_model.sh [WORK_DIR] [ITERATIONS]
# A 64-subject phantom population (seed 100, 32 x 32 x 16), prepared with MRtrix3 (DIPY without it), then the
# bundle's demo preset trained from scratch. On 2 CPU cores one iteration takes about 1.3 s; on a GPU, set
# --device cuda:0 in the last command. The shipped files' log is bundle/docs/demo_training_log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-demo_model_work}"
ITERATIONS="${2:-3300}"
bash scripts/setup_env.sh >/dev/null
PY=.venv/bin/python
$PY -m monai_fodgan.data.phantom --out "$WORK/phantom" --n 64 --shape 32 32 16 --seed 100
$PY -m monai_fodgan.prepare --bids "$WORK/phantom" --out "$WORK/dataset" --shape 32 32 16 --val 8 --seed 0 --jobs 2
$PY -m monai.bundle run training --config_file "['bundle/configs/train.json','bundle/configs/demo.json']" \
    --dataset_dir "$WORK/dataset" --normalization_file "$WORK/dataset/sh_stats.json" --output_dir "$WORK/training" \
    --checkpoint_file "$WORK/training/model.pt" --max_iterations "$ITERATIONS" --checkpoint_every_epochs 10 \
    --sample_every 250 --log_every 50
LAST=$(ls "$WORK"/training/checkpoints/checkpoint_*.pt | sort | tail -n 1)
cp "$LAST" bundle/models/demo_checkpoint.pt
cp "$WORK/training/model.pt" bundle/models/model.pt
cp "$WORK/dataset/sh_stats.json" bundle/models/demo_sh_stats.json
echo "demo model: bundle/models/ (from $LAST)"
