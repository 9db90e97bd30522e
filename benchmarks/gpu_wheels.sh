#!/usr/bin/env bash
# Fetch, here, the wheels that the GPU machine's PyTorch image lacks (Python 3.12 there), into .whl/ (ignored by
# git): the versions of this project's .venv. Then carry .whl with benchmarks/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
version() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; }
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
    "monai==$(version monai)" "pytorch-ignite==$(version pytorch-ignite)" "nibabel==$(version nibabel)"
ls -la .whl
