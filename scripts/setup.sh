#!/usr/bin/env bash
# Create .venv (once) and install torch 2.13.0 (CPU wheel) before the project, so no CUDA build is pulled.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh "data,plot"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q torch==2.13.0
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi
