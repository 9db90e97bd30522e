#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install monai_fodgan with its test extras.
# torch is pinned first to the CPU build this machine family ships (2.13.0); on a GPU machine it is the
# CUDA build from PyPI. Every package is constrained to the tested versions of constraints.txt (CI uses this
# script, so it installs exactly those). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.monai_fodgan-installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
    touch "$stamp"
fi
