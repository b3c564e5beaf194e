"""Every sub-command end to end on a tiny BERT, through `python -m hf_gradiend.cli` in a subprocess, as a user runs it:
data → train → evaluate → rewrite → compare → info (push: see test_cli_push.py)."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import load_from_disk
from transformers import AutoModelForMaskedLM

from hf_gradiend import GradiendModel, GradiendTrainer
from hf_gradiend.cli import main


@pytest.fixture(scope="module")
def data_dir(workspace, cli):
    result = cli(
        "data", "--output_dir", "data", "--classes", "3SG=he,she,it", "3PL=they", "--base_data", "corpus.txt",
        "--seed", "0", "--neutral_excluded_words", "i", "we", "you", cwd=workspace,
    )
    return workspace / "data", result


@pytest.fixture(scope="module")
def direction_dir(workspace, data_dir, cli, train_flags):
    """`train` with most settings from a YAML config file and one flag overriding it."""
    (workspace / "train.yaml").write_text(
        "model: bert\ndata: data/training\neval_neutral_data: data/neutral\noutput_dir: run\nseed: 7\n"
    )
    result = cli("train", "--config", "train.yaml", *train_flags, cwd=workspace)
    return workspace / "run", result


def test_data_writes_training_splits_and_neutral_texts(data_dir):
    folder, result = data_dir
    training = load_from_disk(str(folder / "training"))
    assert set(training) == {"train", "validation", "test"}
    assert set(training["train"]["factual_class"]) == {"3SG", "3PL"}
    row = next(r for r in training["train"] if r["factual_class"] == "3PL")
    assert row["factual"].lower() == "they" and row["alternative"].lower() in {"he", "she", "it"}
    assert "[MASK]" in row["masked"] and "they" not in row["masked"].lower().split()
    neutral = load_from_disk(str(folder / "neutral"))
    assert len(neutral) == 8 and not any(w in t.lower().split() for t in neutral["text"] for w in ("he", "they"))
    assert f"train: {len(training['train'])} rows" in result.stdout


def test_train_saves_a_direction_that_separates_the_classes(direction_dir, workspace):
    folder, result = direction_dir
    direction = GradiendModel.from_pretrained(folder)
    assert direction.config.feature_classes == ["3SG", "3PL"]
    assert direction.config.base_model_name_or_path == "bert"
    assert direction.config.source == "factual"  # the flag beat the default
    metrics = json.loads((folder / "all_results.json").read_text())
    assert metrics["eval_seed"] == 1  # --seed 1 overrode the config file's seed: 7
    assert metrics["eval_correlation"] > 0.8 and metrics["eval_mean_3SG"] > metrics["eval_mean_3PL"]
    assert (folder / "README.md").is_file()
    assert "Saved the direction 3SG (+1) vs 3PL (-1)" in result.stdout


@pytest.mark.skipif(
    not hasattr(GradiendTrainer, "evaluate_encoder"),
    reason="GradiendTrainer has no evaluate_encoder/evaluate_decoder yet (EvaluationMixin not in its bases)",
)
def test_evaluate_writes_encoder_and_decoder_results(direction_dir, workspace, cli):
    folder, _ = direction_dir
    result = cli(
        "evaluate", "--direction", "run", "--data", "data/training", "--eval_neutral_data", "data/neutral",
        "--learning_rates", "0.01", "0.1", "1", "--use_cpu", "--output_dir", "evaluation", cwd=workspace,
    )
    encoder = json.loads((workspace / "evaluation" / "encoder_results.json").read_text())
    assert encoder["split"] == "test" and encoder["correlation"] > 0.5
    assert encoder["mean_by_feature_class"]["3SG"] > encoder["mean_by_feature_class"]["3PL"]
    decoder = json.loads((workspace / "evaluation" / "decoder_results.json").read_text())
    assert {"3SG", "3PL"} <= set(decoder) and decoder["3PL"]["learning_rate"] in (0.01, 0.1, 1.0)
    assert "Encoder (test split): r=" in result.stdout and "Decoder: strengthen 3PL" in result.stdout


def test_rewrite_saves_the_merged_model(direction_dir, workspace, cli):
    folder, _ = direction_dir
    result = cli(
        "rewrite", "--direction", "run", "--alpha", "0.5", "--feature_value", "1", "--target_class", "3PL",
        "--output_dir", "rewritten", "--use_cpu", cwd=workspace,
    )
    base = AutoModelForMaskedLM.from_pretrained(workspace / "bert")
    rewritten = AutoModelForMaskedLM.from_pretrained(workspace / "rewritten")
    direction = GradiendModel.from_pretrained(folder)
    update = direction.update_for(1.0, alpha=0.5)
    name = next(iter(update))
    expected = base.state_dict()[name] + update[name]
    assert torch.allclose(rewritten.state_dict()[name], expected, atol=1e-6)
    assert (workspace / "rewritten" / "adapter" / "adapter_config.json").is_file()
    assert "strengthen 3PL" in (workspace / "rewritten" / "README.md").read_text() or "3PL" in result.stdout
    assert "alpha=0.5, h=1" in result.stdout


def test_compare_prints_and_writes_the_overlap(direction_dir, workspace, cli):
    folder, _ = direction_dir
    GradiendModel.from_pretrained(folder).prune(100).save_pretrained(workspace / "run_top100")
    result = cli(
        "compare", "--directions", "full=run", "top100=run_top100", "--topk", "50", "--value", "intersection",
        "--output_path", "plots/overlap.png", "--table_path", "plots/overlap.json", cwd=workspace,
    )
    table = json.loads((workspace / "plots" / "overlap.json").read_text())
    # the pruned copy keeps the top 100 coordinates, so the top 50 of both coincide
    assert table["values"] == {"full": {"full": 50, "top100": 50}, "top100": {"full": 50, "top100": 50}}
    assert (workspace / "plots" / "overlap.png").read_bytes()[:4] == b"\x89PNG"
    assert "full" in result.stdout and "Figure -> plots/overlap.png" in result.stdout


def test_info_prints_base_model_classes_and_metrics(direction_dir, workspace, cli, capsys):
    folder, _ = direction_dir
    result = cli("info", "--direction", "run", cwd=workspace)
    assert "Base model:  bert (BertForMaskedLM)" in result.stdout
    assert "Classes:     3SG (+1) vs 3PL (-1)" in result.stdout
    assert "eval_correlation:" in result.stdout
    assert main(["info", "--direction", str(folder), "--json"]) == 0  # the same in-process, as JSON
    info = json.loads(capsys.readouterr().out)
    assert info["positive_class"] == "3SG" and info["metrics"]["eval_seed"] == 1
    assert info["coordinates"] == info["kept_coordinates"] == GradiendModel.from_pretrained(folder).config.input_dim
