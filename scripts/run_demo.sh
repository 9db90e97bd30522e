#!/usr/bin/env bash
# The main job on built-in demo data: set up .venv if needed, then run the demo (outputs in ./demo_output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m monai_fodgan.demo --out demo_output "$@"
