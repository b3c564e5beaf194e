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


def _torchrun(*args: str, env: dict) -> None:
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", str(SCRIPT), *args], check=True, env=env,
        timeout=300,
    )


def _assert_same(left: Path, right: Path) -> None:
    a, b = load_file(left / "model.safetensors"), load_file(right / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="needs torchrun")
def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "single"), "2"], check=True, env=env, timeout=300)
    _torchrun(str(tmp_path / "multi"), "1", env=env)
    _assert_same(tmp_path / "single", tmp_path / "multi")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="needs torchrun")
def test_two_processes_share_one_gradient_cache(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cache = tmp_path / "cache"
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "single"), "2"], check=True, env=env, timeout=300)
    _torchrun(str(tmp_path / "filling"), "1", str(cache), env=env)  # both ranks write the one directory
    keys = (cache / "index.txt").read_text().splitlines()
    assert keys and len(keys) == len(set(keys))  # each unit stored once
    _torchrun(str(tmp_path / "reading"), "1", str(cache), env=env)  # now every gradient is read back
    assert (cache / "index.txt").read_text().splitlines() == keys
    _assert_same(tmp_path / "single", tmp_path / "filling")
    _assert_same(tmp_path / "single", tmp_path / "reading")
