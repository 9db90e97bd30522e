#!/usr/bin/env bash
# Create (or reuse) the MONAI Label app's virtual environment, .venv-monailabel (or $1), beside the project's .venv:
# torch 2.13.0 first (the CPU build this machine family ships; a constraint holds it there), monailabel 0.8.5 without
# its dependencies, then monailabel_app/requirements.txt (its requirements at tested versions, without sam2) and
# monai_fodgan itself (editable, no dependencies: requirements.txt covers what the app imports). Idempotent: a second
# run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${1:-.venv-monailabel}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
stamp="$VENV/.monai_fodgan-installed"
if [ ! -f "$stamp" ] || [ monailabel_app/requirements.txt -nt "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    constraint="$VENV/torch-constraint.txt"
    echo "torch==2.13.0" > "$constraint"
    "$VENV/bin/python" -m pip install -q "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q --no-deps "monailabel==0.8.5"
    "$VENV/bin/python" -m pip install -q -c "$constraint" -r monailabel_app/requirements.txt
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    touch "$stamp"
fi
