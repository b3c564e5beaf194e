"""The reference package `gradiend==0.2.3`, installed in its own virtual environment for side-by-side benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REFERENCE_VERSION = "0.2.3"
VENV = Path(__file__).resolve().parent.parent / ".cache" / "reference-venv"


def reference_python() -> Path:
    """Path to a Python with `gradiend==0.2.3` (and torch 2.13.0, installed first), creating the venv once."""
    python = VENV / "bin" / "python"
    marker = VENV / f".gradiend-{REFERENCE_VERSION}"
    if marker.exists():
        return python
    print(f"Installing gradiend=={REFERENCE_VERSION} into {VENV} (once)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, f"gradiend=={REFERENCE_VERSION}"], check=True)
    marker.touch()
    return python


if __name__ == "__main__":
    print(reference_python())
