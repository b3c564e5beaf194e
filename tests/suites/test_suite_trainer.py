"""TrainerSuite: one direction per class pair and merged feature, a shared gradient cache, skipping finished runs,
comparison figures, and bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from unittest import mock

import pytest
import torch

from hf_gradiend import GradiendModel, GradiendTrainingArguments
from hf_gradiend.gradients.cache import GradientCache
from hf_gradiend.suites import RUN_FILE, SUITE_FILE, TrainerSuite, suite_directions
from hf_gradiend.testing_utils import toy_templates

WORDS = {"1SG": ["i"], "3SG": ["he", "she"], "3PL": ["they"]}
NUMBER = {"number": {"singular": ["1SG", "3SG"], "plural": ["3PL"]}}


def per_class_rows(words_by_class):
    return {
        c: [{"masked": t, "factual": w, "text": t.replace("[MASK]", w)} for t in toy_templates() for w in words]
        for c, words in words_by_class.items()
    }


def suite_args(output_dir, **kwargs):
    defaults = dict(
        output_dir=str(output_dir), max_steps=30, learning_rate=1e-2, gradient_batch_size=4, source="factual",
        eval_strategy="steps", eval_steps=10, logging_strategy="no", disable_tqdm=True, use_cpu=True, seed=0,
    )
    return GradiendTrainingArguments(**{**defaults, **kwargs})


def make_suite(bert, output_dir, **kwargs):
    model, tokenizer = bert
    options = dict(classes=["1SG", "3SG", "3PL"], merged_features=NUMBER, args=suite_args(output_dir))
    return TrainerSuite(model, per_class_rows(WORDS), tokenizer=tokenizer, **{**options, **kwargs})


@pytest.fixture(scope="module")
def trained(bert, tmp_path_factory):
    """
    A 3-class suite (three pairs + the merged feature "number") trained once for the module; also returns the
    gradient caches the runs opened, as (directory, units already stored when opened).
    """
    base = (copy.deepcopy(bert[0]), bert[1])
    output_dir = tmp_path_factory.mktemp("suite") / "pronouns"
    suite = make_suite(base, output_dir)
    opened = []

    class RecordingCache(GradientCache):
        def __init__(self, directory, *args, **kwargs):
            super().__init__(directory, *args, **kwargs)
            opened.append((Path(directory), len(self)))

    with mock.patch("hf_gradiend.training.trainer.GradientCache", RecordingCache):
        status = suite.train()
    return suite, status, base, opened


def test_three_classes_give_three_pairs_and_the_merged_feature(trained):
    suite, status, _, _ = trained
    assert [r.name for r in suite.runs] == ["1SG_vs_3SG", "1SG_vs_3PL", "3SG_vs_3PL", "number"]
    assert [r.label for r in suite.runs] == ["1SG/3SG", "1SG/3PL", "3SG/3PL", "number"]
    assert status == {name: "trained" for name in ("1SG_vs_3SG", "1SG_vs_3PL", "3SG_vs_3PL", "number")}
    for run in suite.runs:
        direction = GradiendModel.from_pretrained(run.output_dir)
        assert direction.config.feature_classes == run.target_classes
        record = json.loads((run.output_dir / RUN_FILE).read_text())
        assert record["spec"]["target_classes"] == run.target_classes
        assert record["metrics"]["correlation"] > 0.5, (run.name, record["metrics"])  # each direction separates
    assert suite.run("number").target_classes == ["singular", "plural"]
    results = suite.results()
    assert all(r["finished"] for r in results.values())


def test_runs_share_one_gradient_cache(trained):
    suite, _, _, opened = trained
    assert [p.parent for p in suite.output_dir.rglob("meta.json")] == [suite.output_dir / "gradient_cache"]
    assert {directory for directory, _ in opened} == {suite.output_dir / "gradient_cache"}
    stored = [units for _, units in opened]
    assert stored[0] == 0 and all(b > a for a, b in zip(stored, stored[1:], strict=False))  # each run adds to it


def test_rerun_skips_finished_runs_without_loading_the_base(trained, monkeypatch):
    suite, _, base, _ = trained
    again = make_suite(base, suite.output_dir)
    stamps = {r.name: (r.output_dir / "model.safetensors").stat().st_mtime_ns for r in again.runs}
    monkeypatch.setattr(TrainerSuite, "_load_base", lambda self: pytest.fail("a finished suite loaded its base"))
    assert set(again.train().values()) == {"skipped"}
    assert stamps == {r.name: (r.output_dir / "model.safetensors").stat().st_mtime_ns for r in again.runs}


def test_rerun_trains_only_the_unfinished_run(trained):
    suite, _, base, _ = trained
    (suite.run("1SG_vs_3PL").output_dir / RUN_FILE).unlink()  # as if the process had died during this run
    again = make_suite(base, suite.output_dir)
    before = (again.run("3SG/3PL").output_dir / "model.safetensors").stat().st_mtime_ns
    status = again.train()
    assert status == {"1SG_vs_3SG": "skipped", "1SG_vs_3PL": "trained", "3SG_vs_3PL": "skipped", "number": "skipped"}
    assert (again.run("3SG/3PL").output_dir / "model.safetensors").stat().st_mtime_ns == before
    assert again.is_finished("1SG_vs_3PL")


def test_changed_arguments_or_data_make_runs_unfinished(trained):
    suite, _, base, _ = trained
    assert not make_suite(base, suite.output_dir, args=suite_args(suite.output_dir, seed=1)).is_finished("number")
    assert not make_suite(base, suite.output_dir, args=suite_args(suite.output_dir, max_steps=31)).is_finished(
        "1SG/3SG"
    )
    fewer = {**WORDS, "3SG": ["he"]}
    other_data = TrainerSuite(base[0], per_class_rows(fewer), tokenizer=base[1], merged_features=NUMBER,
                              args=suite_args(suite.output_dir))
    assert not other_data.is_finished("3SG/3PL")
    # where logs go does not matter
    assert make_suite(base, suite.output_dir, args=suite_args(suite.output_dir, disable_tqdm=False)).is_finished(
        "3SG/3PL"
    )


def test_compare_draws_the_overlap_of_the_suite(trained):
    suite, _, _, _ = trained
    figure, path = suite.compare(topk=50)
    assert path == suite.output_dir / "topk_overlap.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) >= 1
    _, heatmap = suite.compare(topk=50, kind="heatmap", output_path=suite.output_dir / "heatmap.png")
    assert heatmap.is_file()
    overlap = suite.topk_overlap(k=50)
    assert overlap.labels == ("1SG/3SG", "1SG/3PL", "3SG/3PL", "number")
    assert torch.allclose(overlap.values.diagonal(), torch.ones(4, dtype=torch.double))
    assert suite_directions(suite.output_dir) == suite.directions()
    assert json.loads((suite.output_dir / SUITE_FILE).read_text())["classes"] == ["1SG", "3SG", "3PL"]


def test_compare_before_training_names_the_missing_runs(bert, tmp_path):
    suite = make_suite(bert, tmp_path / "s", merged_features=None)
    with pytest.raises(ValueError, match=r"not trained yet.*suite.train"):
        suite.compare(topk=10)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"merged_features": {"number": {"sg": ["1SG"], "pl": ["3PL"], "x": ["3SG"]}}}, "exactly two merged"),
        ({"merged_features": {"number": {"sg": ["1SG", "2SG"], "pl": ["3PL"]}}}, r"names \['2SG'\]"),
        ({"merged_features": {"number": {"sg": ["1SG", "3SG"], "pl": ["3SG"]}}}, "both merged classes"),
        ({"classes": ["1SG", "2PL"]}, r"classes names \['2PL'\]"),
        ({"pairs": [("3SG", "3SG")]}, "two different classes"),
        ({"pairs": [], "merged_features": None}, "no runs"),
        ({"merged_features": {"3SG/3PL": {"sg": ["3SG"], "pl": ["3PL"]}}}, "share the label"),
    ],
)
def test_bad_suites_are_refused_before_anything_is_written(bert, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_suite(bert, tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()


def test_args_must_be_gradiend_training_arguments(bert, tmp_path):
    with pytest.raises(TypeError, match="GradiendTrainingArguments"):
        TrainerSuite(bert[0], per_class_rows(WORDS), tokenizer=bert[1], args={"output_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="output_dir"):
        TrainerSuite(bert[0], per_class_rows(WORDS), tokenizer=bert[1])


def test_rows_with_alternatives_give_the_classes_in_order(bert, rows, tmp_path):
    suite = TrainerSuite(bert[0], rows, tokenizer=bert[1], args=suite_args(tmp_path / "s"))
    assert suite.classes == ["3SG", "3PL"] and [r.label for r in suite.runs] == ["3SG/3PL"]
    assert suite.run_data(suite.runs[0]) is suite.splits and not suite.is_finished("3SG/3PL")
    with pytest.raises(KeyError, match="No run '1SG/3PL'"):
        suite.run("1SG/3PL")
    with pytest.raises(ValueError, match="holds no suite.json"):
        suite_directions(tmp_path)
    assert not (tmp_path / "s").exists()
