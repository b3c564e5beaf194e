"""Encoder analysis without a trainer: the metric definitions and the neutral groups."""

from __future__ import annotations

import random

import pytest
import torch
from datasets import Dataset

from hf_gradiend.evaluation import analyze_encoder, encoder_report
from hf_gradiend.evaluation.encoder import neutral_rows
from hf_gradiend.evaluation.texts import mask_random_word, word_pattern
from hf_gradiend.gradients.objectives import build_objective

CLASSES = ["3SG", "3PL"]


def test_report_definitions():
    h = torch.tensor([0.9, 0.3, -0.8, 0.2, 0.1, -0.6, 0.4])
    groups = ["training"] * 4 + ["neutral_training_masked", "neutral_dataset", "neutral_dataset"]
    classes = ["3SG", "3SG", "3PL", "3PL", "neutral", "neutral", "neutral"]
    report = encoder_report(h, groups, classes, CLASSES, boundary=0.5)
    labels = torch.tensor([1.0, 1.0, -1.0, -1.0])
    expected_r = float(torch.corrcoef(torch.stack([h[:4], labels]))[0, 1])
    assert report["correlation"] == pytest.approx(expected_r, abs=1e-6)
    assert report["accuracy"] == 0.75  # 0.2 has the wrong sign for 3PL
    # class rows beyond ±0.5 on their side: 0.9 and -0.8; neutral within ±0.5: 0.1 and 0.4
    assert report["ternary_accuracy"] == pytest.approx(4 / 7)
    assert report["mean_by_feature_class"] == pytest.approx({"3SG": 0.6, "3PL": -0.3})
    assert report["mean_by_class"] == pytest.approx({1.0: 0.6, -1.0: -0.3, 0.0: (0.1 - 0.6 + 0.4) / 3})
    assert report["neutral_dataset_mean"] == pytest.approx(-0.1)
    assert report["neutral_training_masked_mean"] == pytest.approx(0.1)
    assert report["abs_mean_by_group"]["neutral_dataset"] == pytest.approx(0.5)
    assert report["n_by_group"] == {"training": 4, "neutral_training_masked": 1, "neutral_dataset": 2}
    assert report["n_samples"] == 7


def test_absent_neutral_group_is_none():
    report = encoder_report(torch.tensor([0.5, -0.5]), ["training"] * 2, CLASSES, CLASSES)
    assert report["neutral_dataset_mean"] is None and report["n_by_group"]["neutral_dataset"] == 0
    assert 0.0 not in report["mean_by_class"]


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_random_word_masking_never_picks_a_target_word(request, name):
    model, tokenizer = request.getfixturevalue(name)
    objective = build_objective("masked_lm" if name == "bert" else "causal_lm", tokenizer)
    pattern = word_pattern(["he", "they"])
    rng = random.Random(0)
    for _ in range(20):
        masked, word = mask_random_word("They said he walked to the old market.", pattern, objective, rng)
        assert word.lower() not in {"he", "they"} and masked.count("[MASK]") == 1
        objective.encode(masked, word)  # encodable
    assert mask_random_word("They he.", pattern, objective, rng) is None
    rows, skipped = neutral_rows(["They he.", "We walked home."], ["he", "they"], objective)
    assert skipped == 1 and rows[0]["factual"] == rows[0]["alternative"]


def test_analyze_encoder_with_any_encoder(bert, rows, neutral_texts):
    _, tokenizer = bert
    objective = build_objective("masked_lm", tokenizer)

    def encode(dataset: Dataset) -> torch.Tensor:  # a stand-in encoder: +1 for "he"/"she"/"it", -1 for "they", else 0
        value = {"he": 1.0, "she": 1.0, "it": 1.0, "they": -1.0}
        return torch.tensor([value.get(w, 0.0) for w in dataset["factual"]])

    report = analyze_encoder(encode, Dataset.from_list(rows), CLASSES, objective, neutral_texts=neutral_texts,
                             return_dataset=True)
    assert report["correlation"] == pytest.approx(1.0) and report["accuracy"] == 1.0
    assert report["ternary_accuracy"] == 1.0 and report["neutral_dataset_mean"] == 0.0
    assert report["n_by_group"]["neutral_dataset"] == len(neutral_texts)
    assert set(report["encodings"].column_names) >= {"masked", "group", "label", "h"}
    with pytest.raises(ValueError, match="split has no rows"):
        analyze_encoder(encode, Dataset.from_list(rows).select([]), CLASSES, objective)
    with pytest.raises(ValueError, match="encode returned 1 encodings"):
        analyze_encoder(lambda d: torch.zeros(1), Dataset.from_list(rows), CLASSES, objective)
