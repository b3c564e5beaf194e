"""The English examples run end to end on SmolLM2-135M (`--smoke`: tiny data, two steps, one layer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hf_gradiend.offline_assets import MissingAssetError, smollm2_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def smollm2() -> Path:
    try:
        return smollm2_path()
    except MissingAssetError as error:
        pytest.skip(str(error))


def run_example(name: str, model: Path, output_dir: Path) -> str:
    """Run `examples/<name>.py --smoke` in a fresh interpreter, offline; its stdout (stderr shown on failure)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, str(EXAMPLES / f"{name}.py"), "--smoke", "--model", str(model),
               "--output-dir", str(output_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    assert result.returncode == 0, f"{name} exited {result.returncode}:\n{output}"
    return result.stdout


def is_direction(folder: Path) -> bool:
    config = folder / "config.json"
    return config.is_file() and json.loads(config.read_text())["model_type"] == "gradiend" and (
        folder / "model.safetensors").is_file()


@pytest.mark.slow
def test_english_pronouns_example(smollm2, tmp_path):
    out = tmp_path / "pronouns"
    stdout = run_example("english_pronouns", smollm2, out)
    for run in ("number", "person", "3SG_vs_3PL", "1SG_vs_3SG"):
        assert is_direction(out / run), run
    assert (out / "topk_overlap.png").stat().st_size > 0 and (out / "topk_overlap.csv").is_file()
    report = json.loads((out / "report.json").read_text())
    assert 0.0 <= report["number_person_overlap"] <= 1.0
    assert report["overlap"]["number"]["person"] == report["number_person_overlap"]
    assert "Do number and person share weights?" in stdout and "number ∩ person" in stdout


@pytest.mark.slow
def test_english_gender_example(smollm2, tmp_path):
    out = tmp_path / "gender"
    stdout = run_example("english_gender", smollm2, out)
    assert is_direction(out / "direction")
    assert json.loads((out / "direction" / "config.json").read_text())["feature_classes"] == ["M", "F"]
    assert (out / "direction" / "encoder_test.png").stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    assert -1.0 <= report["test_correlation"] <= 1.0
    assert set(report["class_means"]) == {"M", "F"}
    assert {"he", "she", "neutral texts"} <= set(report["groups"])
    assert "correlation of h with the labels" in stdout
