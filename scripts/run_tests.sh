#!/usr/bin/env bash
# The test command: set up .venv if needed, then run the whole suite (pass pytest options through).
# Two pytest-xdist workers (at most; one per core), whole test files per worker (--dist loadfile) so that each
# file's module-scoped fixtures (the main job, the MONAI Label server, ...) are built once. Pass -n 0 to run serially.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m pytest -q -n auto --maxprocesses 2 --dist loadfile "$@"
