"""TextPredictionTrainer: data as a DatasetDict, a file, or per-class rows; class merging; target classes."""

from __future__ import annotations

import copy

import pytest
from datasets import Dataset, DatasetDict

from hf_gradiend import TextPredictionTrainer
from hf_gradiend.testing_utils import toy_templates
from hf_gradiend.training.text_prediction import load_rows, merge_classes, pair_per_class


def _per_class(words_by_class):
    return {
        c: [{"masked": t, "factual": w, "text": t.replace("[MASK]", w)} for t in toy_templates() for w in words]
        for c, words in words_by_class.items()
    }


def test_per_class_rows_get_seeded_alternatives_in_the_factual_case():
    per_class = _per_class({"3SG": ["he", "she", "it"], "3PL": ["they"]})
    per_class["3SG"].append({"masked": "[MASK] went home.", "factual": "He", "text": "He went home."})
    rows = pair_per_class(per_class, seed=0)
    again = pair_per_class(per_class, seed=0)
    assert rows["alternative"] == again["alternative"]
    sg = [r for r in rows if r["factual_class"] == "3SG"]
    assert {r["alternative"] for r in sg} == {"they", "They"}
    assert next(r for r in sg if r["factual"] == "He")["alternative"] == "They"
    pl = [r for r in rows if r["factual_class"] == "3PL"]
    assert {r["alternative"] for r in pl} <= {"he", "she", "it"} and len({r["alternative"] for r in pl}) > 1


def test_trainer_from_per_class_rows_learns_the_direction(bert, tmp_path, make_args):
    trainer = TextPredictionTrainer(
        copy.deepcopy(bert[0]), data=_per_class({"3SG": ["he", "she", "it"], "3PL": ["they"]}),
        target_classes=["3SG", "3PL"], args=make_args(), tokenizer=bert[1],
    )
    assert set(trainer.data) == {"train", "validation", "test"}
    trainer.train()
    assert trainer.evaluate(trainer.split_rows("test"))["eval_correlation"] > 0.9


def test_rows_from_a_csv_file_with_a_split_column(rows, tmp_path):
    path = tmp_path / "rows.csv"
    Dataset.from_list([{**r, "split": "train" if i % 4 else "test"} for i, r in enumerate(rows)]).to_csv(path)
    splits = load_rows(str(path))
    assert len(splits["train"]) == 72 and len(splits["test"]) == 24 and len(splits["validation"]) == 0


def test_class_merge_map_merges_and_drops_same_class_transitions():
    per_class = _per_class({"1SG": ["i"], "3SG": ["he"], "1PL": ["we"], "3PL": ["they"]})
    splits = DatasetDict({"train": pair_per_class(per_class, seed=0)})
    merged = merge_classes(splits, {"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]})["train"]
    assert set(merged["factual_class"]) == {"singular", "plural"}
    assert all(r["factual_class"] != r["alternative_class"] for r in merged)
    assert len(merged) < len(splits["train"])  # 1SG→3SG style rows were dropped


def test_more_than_two_classes_need_target_classes(bert, tmp_path, make_args):
    per_class = _per_class({"1SG": ["i"], "3SG": ["he"], "3PL": ["they"]})
    with pytest.raises(ValueError, match="has 3 classes.*target_classes"):
        TextPredictionTrainer(bert[0], data=per_class, args=make_args(), tokenizer=bert[1])
    assert not (tmp_path / "out").exists()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No training data at"):
        load_rows(str(tmp_path / "nope.csv"))
