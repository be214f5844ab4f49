#!/usr/bin/env bash
# Sets up .venv with every groot package and launches the demo (sample image preloaded).
# Arguments go to groot-demo, e.g. scripts/demo.sh --port 7861 --device cuda
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${GROOT_VENV:-.venv}/bin/groot-demo" "$@"
