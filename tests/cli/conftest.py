"""A workspace for the CLI tests: a tiny BERT saved to a folder (loaded by path, as a user would), a toy corpus, and a
helper that runs `python -m hf_gradiend.cli` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hf_gradiend.testing_utils import tiny_bert, tiny_wordpiece_tokenizer, toy_templates

NEUTRAL = (
    "The old market was quiet in the morning.", "A small garden is near the river.", "The late train was crowded.",
    "The news was short and quiet.", "A bright red car is near the bridge.", "The kitchen was clean before dinner.",
    "The radio was on every evening.", "A tiny wooden boat is on the lake.",
)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    """A folder with `bert/` (tiny BERT + tokenizer) and `corpus.txt` (3SG/3PL sentences and neutral ones)."""
    root = tmp_path_factory.mktemp("cli")
    tokenizer = tiny_wordpiece_tokenizer()
    model = tiny_bert(tokenizer)
    model.save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    lines = [t.replace("[MASK]", w) for t in toy_templates() for w in ("he", "she", "it", "they")] + list(NEUTRAL)
    (root / "corpus.txt").write_text("\n".join(lines) + "\n")
    return root


def run_cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m hf_gradiend.cli *args` in `cwd`, offline, with a private gradient cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_GRADIEND_CACHE": str(cwd / ".cache")}
    env["TOKENIZERS_PARALLELISM"] = "false"
    env.pop("HF_GRADIEND_TRACEBACK", None)
    result = subprocess.run(
        [sys.executable, "-m", "hf_gradiend.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hf-gradiend {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session")
def cli():
    """The runner: `cli(*args, cwd=folder, check=True)` → `subprocess.CompletedProcess`."""
    return run_cli


@pytest.fixture(scope="session")
def train_flags() -> tuple[str, ...]:
        return TRAIN_FLAGS


TRAIN_FLAGS = (
    "--max_steps", "40", "--learning_rate", "0.01", "--gradient_batch_size", "4", "--source", "factual",
    "--eval_strategy", "steps", "--eval_steps", "20", "--logging_strategy", "no", "--disable_tqdm", "true",
    "--use_cpu", "--seed", "1",
)


@pytest.fixture(scope="session")
def random_direction(workspace) -> Path:
    """`workspace/random_direction`: an untrained 3SG/3PL direction over one query projection of the saved BERT."""
    from transformers import AutoModelForMaskedLM

    from hf_gradiend import GradiendModel
    from hf_gradiend.gradients import select_parameters

    base = AutoModelForMaskedLM.from_pretrained(workspace / "bert")
    selection = select_parameters(base, ["*.layer.0.attention.self.query.*"])
    torch.manual_seed(0)
    direction = GradiendModel.for_base_model(
        base, selection, feature_classes=["3SG", "3PL"], source="factual", target="diff", objective="masked_lm"
    )
    with torch.no_grad():
        direction.decoder.weight.normal_()
    direction.save_pretrained(workspace / "random_direction")
    return workspace / "random_direction"


def error_line(stderr: str, command: str) -> str:
    """The last stderr line, checked to be the CLI's one-line error of `command` (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"hf-gradiend {command}: error: "), stderr
    return line
