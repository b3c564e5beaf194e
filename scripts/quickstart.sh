#!/usr/bin/env bash
# Set up (first run only) and run the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "data,plot" >&2
HF_HUB_OFFLINE=1 exec .venv/bin/python examples/quickstart.py "$@"
