#!/usr/bin/env bash
# Reproduce the demo model shipped in bundle/models/ (demo_checkpoint.pt, demo_model.pt, demo_sh_stats.json):
#   bash scripts/train_demo_model.sh [WORK_DIR] [ITERATIONS] [SUBJECTS]
# A phantom population (seed 100) on the grid of configs/demo.json (32 x 32 x 16, the shipped model's), prepared with
# MRtrix3 (DIPY without it), then the bundle's demo preset trained from scratch with demo.json's recipe into
# WORK_DIR/training, on the GPU when there is one (else the CPU: about 0.65 s per iteration on 2 cores).
# GRID=3mm uses configs/demo_3mm.json instead: 56 x 64 x 56, about 3 mm isotropic (the crop widened with
# --isotropic), where tractography recovers the phantom's bundles; minutes on a GPU, about 10 s per iteration on 2 CPU
# cores. Its shipped files are demo_3mm_model.pt and demo_3mm_sh_stats.json (no full training state: with the
# optimisers' moments it would be about 45 MB; the run's checkpoints stay in WORK_DIR/training/checkpoints).
# The shipped files' logs are bundle/docs/demo_training_log.txt and bundle/docs/demo_3mm_training_log.txt.
# The shipped files are replaced only when INSTALL=1 is set (INSTALL=1 bash scripts/train_demo_model.sh ...).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-demo_model_work}"
ITERATIONS="${2:-2000}"
SUBJECTS="${3:-32}"
bash scripts/setup_env.sh >/dev/null
PY=.venv/bin/python
CONFIGS="'bundle/configs/train.json','bundle/configs/demo.json'"
SHAPE=(32 32 16)
CROP=()
NAME=demo  # the shipped files' prefix in bundle/models/
if [ "${GRID:-}" = "3mm" ]; then
    CONFIGS="$CONFIGS,'bundle/configs/demo_3mm.json'"
    SHAPE=(56 64 56)
    CROP=(--isotropic)
    NAME=demo_3mm
fi
DEVICE=$($PY -c "import torch; print('cuda:0' if torch.cuda.is_available() else 'cpu')")
PRECISION=$([ "$DEVICE" = cpu ] && echo fp32 || echo bf16)
# a rerun reuses a phantom population written with the same settings (prepare skips the subjects it finished)
if ! $PY -c "import json, sys; p = json.load(open(sys.argv[1])); sys.exit(0 if (p['n'], p['shape'], p['seed']) == (int(sys.argv[2]), [int(v) for v in sys.argv[3:6]], 100) else 1)" \
        "$WORK/phantom/phantom.json" "$SUBJECTS" "${SHAPE[@]}" 2>/dev/null; then
    $PY -m monai_fodgan.data.phantom --out "$WORK/phantom" --n "$SUBJECTS" --shape "${SHAPE[@]}" --seed 100
fi
$PY -m monai_fodgan.prepare --bids "$WORK/phantom" --out "$WORK/dataset" --shape "${SHAPE[@]}" "${CROP[@]}" --val 8 --seed 0 --jobs 2
$PY -m monai.bundle run training --config_file "[$CONFIGS]" \
    --work_dir "$WORK" --dataset_dir "$WORK/dataset" --normalization_file "$WORK/dataset/sh_stats.json" \
    --device "$DEVICE" --precision "$PRECISION" \
    --max_iterations "$ITERATIONS" --checkpoint_every_epochs 10 --sample_every 250 --log_every 50
LAST=$(ls "$WORK"/training/checkpoints/checkpoint_*.pt | sort | tail -n 1)
if [ "${INSTALL:-0}" = "1" ]; then
    if [ "$NAME" = demo ]; then  # the main job continues the 32 x 32 x 16 model from its full training state
        cp "$LAST" bundle/models/demo_checkpoint.pt
    fi
    cp "$WORK/training/model.pt" "bundle/models/${NAME}_model.pt"
    # the statistics the model was trained with (train.json may have computed them at another quantile than prepare)
    $PY -c "import sys, torch; from monai_fodgan.transforms import SHNormalization; SHNormalization.from_dict(torch.load(sys.argv[1], weights_only=True)['normalization']).save(sys.argv[2])" \
        "$WORK/training/model.pt" "bundle/models/${NAME}_sh_stats.json"
    echo "${NAME} model installed in bundle/models/ (from $LAST)"
else
    echo "demo model: $WORK/training/model.pt (with its SH statistics), full state: $LAST"
    echo "(the shipped bundle/models/ are unchanged; INSTALL=1 replaces them)"
fi
