"""The shipped `evaluate` modules load offline by path and give the numbers the decoder grid uses."""

from __future__ import annotations

import evaluate
import pytest

import hf_gradiend.metrics
from hf_gradiend.evaluation import language_modeling_score, target_probabilities
from hf_gradiend.gradients.objectives import build_objective

WORDS = {"3SG": ["he", "she", "it"], "3PL": ["they"]}


def test_lms_module_equals_the_grid_score(lm, neutral_texts):
    model, tokenizer = lm
    module = evaluate.load(hf_gradiend.metrics.path("lms"))
    got = module.compute(texts=neutral_texts, model=model, tokenizer=tokenizer, excluded_words=["they"], seed=3)
    assert got == language_modeling_score(model, tokenizer, neutral_texts, excluded_words=["they"], seed=3)
    assert got["lms"] > 0


def test_target_probability_module_equals_the_grid_score(lm_llama, rows):
    model, tokenizer = lm_llama
    masked = [r["masked"] for r in rows[:20]]
    classes = [r["factual_class"] for r in rows[:20]]
    module = hf_gradiend.metrics.load("target_probability")
    got = module.compute(masked=masked, factual_class=classes, model=model, tokenizer=tokenizer, class_words=WORDS)
    expected = target_probabilities(model, build_objective("causal_lm", tokenizer), masked, WORDS, classes)
    assert got["counts"] == expected["counts"]
    for row_class, values in expected["probabilities"].items():
        assert got["probabilities"][row_class] == pytest.approx(values)


def test_a_saved_model_is_scored_from_its_path(lm_bert, neutral_texts, tmp_path):
    model, tokenizer = lm_bert
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    got = hf_gradiend.metrics.load("lms").compute(texts=neutral_texts, model=str(tmp_path / "m"))
    assert got == language_modeling_score(model, tokenizer, neutral_texts)


def test_unknown_module_name():
    with pytest.raises(ValueError, match="No shipped evaluate module 'bleu'; choose one of lms, target_probability"):
        hf_gradiend.metrics.path("bleu")
    assert set(hf_gradiend.metrics.METRICS) == {"lms", "target_probability"}
