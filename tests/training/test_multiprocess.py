"""The same training script under torchrun with two CPU processes matches a single process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).parent / "scripts" / "train_toy.py"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="needs torchrun")
def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "single"), "2"], check=True, env=env, timeout=300)
    subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", "29533", str(SCRIPT), str(tmp_path / "multi"), "1"],
        check=True, env=env, timeout=300,
    )
    single = load_file(tmp_path / "single" / "model.safetensors")
    multi = load_file(tmp_path / "multi" / "model.safetensors")
    assert single.keys() == multi.keys()
    for name in single:
        torch.testing.assert_close(multi[name], single[name], rtol=1e-4, atol=1e-6)
