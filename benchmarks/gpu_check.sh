#!/usr/bin/env bash
# The GPU measurements of one prepared run (issue: training speed), on a bare GPU machine that has PyTorch:
#   1. install what PyTorch's image lacks (monai, pytorch-ignite, nibabel) from wheels carried in .whl/
#      (fetch them here first: bash benchmarks/gpu_wheels.sh), the package itself from the repository;
#   2. the paper-scale matrix (batch 6, bf16, cuDNN benchmark): the plain baseline and every switch, with the
#      top 5 kernels of each; 3. the demo-scale matrix (CUDA graphs included); 4. bf16 against fp32 on the first
#      iteration's losses at paper scale; 5. generation throughput (batch 1 to 16, copy to host included);
#   6. the rotation of one iteration's batch on the GPU;
# and writes one table, $OUT/gpu_table.md (every part's JSON beside it). Each part has its own time limit, so the
# table is written even if one part overruns; the whole stays under 8 minutes on one H100.
#
#   device run:  bash benchmarks/gpu_check.sh                  (carry .whl; $OUT set by the device tool)
#   CPU check:   bash benchmarks/gpu_check.sh --smoke OUTDIR   (tiny sizes, what CI runs)
set -uo pipefail
cd "$(dirname "$0")/.."
SMOKE=0
if [ "${1:-}" = "--smoke" ]; then SMOKE=1; OUT=${2:?give an output folder}; fi
OUT=${OUT:-out/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
"$PY" -c "import monai, ignite, nibabel, monai_fodgan.engines" || { echo "missing packages: run benchmarks/gpu_wheels.sh here and carry .whl"; exit 1; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU"; "$PY" -c "import torch; print('torch', torch.__version__)"; } | tee "$OUT/machine.txt"

if [ "$SMOKE" = 1 ]; then
    PAPER=(--preset tiny --shape 16 16 8 --batch 2 --iterations 1 --warmup 1)
    DEMO=(--preset tiny --shape 16 16 8 --batch 2 --iterations 1 --warmup 1)
    GEN=(--preset tiny --shape 16 16 8 --batches 1 2 --repeats 1)
    AGREE=(--preset tiny --shape 16 16 8 --batch 2)
    LOADER=(--shape 16 16 8 --subjects 2 --samples 2 --workers 1 --iterations 1 --work "$OUT/loader")
    PAPER_CONFIGS=(plain fused fused+checkpointing) DEMO_CONFIGS=(plain fused)
    LIMIT=300
else
    PAPER=(--preset paper --shape 128 128 64 --batch 6 --iterations 3 --warmup 2 --profile)
    DEMO=(--preset demo --shape 32 32 16 --batch 4 --iterations 10 --warmup 3)
    GEN=(--preset paper --shape 128 128 64 --batches 1 2 4 8 16 --repeats 3)
    AGREE=(--preset paper --shape 128 128 64 --batch 6)
    LOADER=(--subjects 2 --samples 2 --workers 4 --iterations 1 --work /tmp/bench_loader)
    # cheap configurations first: the compiled ones take minutes to compile and are the ones a time limit cuts
    PAPER_CONFIGS=(plain fused fused+channels_last fused+checkpointing fused+fp32last fused+compile all)
    DEMO_CONFIGS=(plain fused fused+channels_last fused+compile fused+cudagraphs)
    LIMIT=0
fi
part() {  # part NAME SECONDS COMMAND...: run with a limit (none in smoke mode beyond LIMIT), log to $OUT/NAME.log
    local name=$1 seconds=$2; shift 2
    [ "$LIMIT" != 0 ] && seconds=$LIMIT
    echo "== $name (limit ${seconds} s)"
    timeout "$seconds" "$@" 2>&1 | tee "$OUT/$name.log" | grep -v -E "^(DEBUG|INFO)"
}
part paper_matrix 240 "$PY" benchmarks/bench_training.py "${PAPER[@]}" --cudnn benchmark --breakdown \
    --configs "${PAPER_CONFIGS[@]}" --json "$OUT/paper.json"
part demo_matrix 90 "$PY" benchmarks/bench_training.py "${DEMO[@]}" --precision fp32 \
    --configs "${DEMO_CONFIGS[@]}" --json "$OUT/demo.json"
part precision 60 "$PY" benchmarks/precision_agreement.py "${AGREE[@]}" --json "$OUT/precision.json"
part generation 45 "$PY" benchmarks/bench_generation.py "${GEN[@]}" --json "$OUT/generation.json"
part loader 40 "$PY" benchmarks/bench_loader.py "${LOADER[@]}"
"$PY" benchmarks/gpu_table.py "$OUT" > "$OUT/gpu_table.md"
cat "$OUT/gpu_table.md"
