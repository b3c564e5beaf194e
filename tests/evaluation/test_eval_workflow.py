"""`trainer.evaluate_encoder()` and `trainer.evaluate_decoder()` on trained tiny masked and causal LMs."""

from __future__ import annotations

import copy

import pytest
import torch
from datasets import Dataset, DatasetDict

from hf_gradiend import GradiendTrainingArguments, PostPruneConfig
from hf_gradiend.stats import pearson

PNG = b"\x89PNG\r\n\x1a\n"
ENCODER_KEYS = {
    "correlation", "accuracy", "ternary_accuracy", "boundary", "mean_by_feature_class", "std_by_feature_class",
    "n_by_feature_class", "mean_by_class", "mean_by_group", "abs_mean_by_group", "std_by_group", "n_by_group",
    "neutral_dataset_mean", "neutral_training_masked_mean", "n_samples", "neutral_dropped", "neutral_skipped", "split",
}


@pytest.fixture(params=["bert_trainer", "llama_trainer"])
def trainer(request):
    return request.getfixturevalue(request.param)


def test_evaluate_encoder_reports_every_key_consistently_with_the_encodings(trainer):
    report = trainer.evaluate_encoder(return_dataset=True)
    assert ENCODER_KEYS | {"encodings"} == set(report)
    data = report["encodings"]
    assert isinstance(data, Dataset) and len(data) == report["n_samples"]
    h, groups, labels = torch.tensor(data["h"]), data["group"], torch.tensor(data["label"])
    training = torch.tensor([g == "training" for g in groups])
    neutral = ~training
    assert report["correlation"] == pytest.approx(pearson(h[training], labels[training]), abs=1e-6)
    assert report["correlation"] > 0.5  # trained (and oriented) on the training templates, scored on held-out ones
    assert report["accuracy"] == pytest.approx(float((h[training].sign() == labels[training]).float().mean()))
    correct = ((labels > 0) & (h > 0.5)) | ((labels < 0) & (h < -0.5)) | (neutral & (h.abs() <= 0.5))
    assert report["ternary_accuracy"] == pytest.approx(float(correct.float().mean()), abs=1e-6)
    classes = data["factual_class"]
    for name in trainer.feature_classes:
        chosen = torch.tensor([c == name and g == "training" for c, g in zip(classes, groups, strict=True)])
        assert report["mean_by_feature_class"][name] == pytest.approx(float(h[chosen].mean()), abs=1e-6)
        assert report["n_by_feature_class"][name] == 12
    assert report["mean_by_class"][1.0] == report["mean_by_feature_class"][trainer.feature_classes[0]]
    assert report["mean_by_class"][0.0] == pytest.approx(float(h[neutral].mean()), abs=1e-6)
    test_rows = trainer.split_rows("test")
    filled = {m.replace("[MASK]", f) for m, f in zip(test_rows["masked"], test_rows["factual"], strict=True)}
    counts = report["n_by_group"]
    assert counts["training"] == 24
    assert counts["neutral_training_masked"] + counts["neutral_dataset"] + report["neutral_skipped"] == (
        len(filled) + len(trainer.eval_neutral_data))
    assert counts["neutral_dataset"] > 0 and counts["neutral_training_masked"] > 0
    assert report["neutral_dataset_mean"] == pytest.approx(float(h[[g == "neutral_dataset" for g in groups]].mean()))
    assert report["neutral_dropped"] == 0 and report["split"] == "test"
    masked_neutral = [m for m, g in zip(data["masked"], groups, strict=True) if g != "training"]
    targets = {"he", "she", "it", "they"}
    assert all(f.lower() not in targets for f, g in zip(data["factual"], groups, strict=True) if g != "training")
    assert all("[MASK]" in m for m in masked_neutral)


def test_evaluate_encoder_encodes_all_rows_in_one_batched_call(bert_trainer, monkeypatch):
    calls = []
    original = bert_trainer.encode_rows

    def spy(rows, batch_size=None):
        calls.append((len(rows), batch_size))
        return original(rows, batch_size)

    monkeypatch.setattr(bert_trainer, "encode_rows", spy)
    report = bert_trainer.evaluate_encoder(batch_size=8)
    assert calls == [(report["n_samples"], 8)]


def test_evaluate_encoder_plot_and_neutral_texts_with_target_words(llama_trainer, neutral_texts, tmp_path):
    neutral = neutral_texts + ["After school they played near the river.", "At noon she answered the letter."]
    with pytest.warns(UserWarning, match="2 of 14 texts"):
        report = llama_trainer.evaluate_encoder(plot=tmp_path / "plots" / "encoder.png", neutral_data=neutral,
                                                max_size=6)
    assert report["neutral_dropped"] == 2
    assert report["n_by_feature_class"] == {"3SG": 6, "3PL": 6}
    assert report["n_by_group"]["neutral_dataset"] <= 6
    assert "encodings" not in report
    assert report["plot_path"] == str(tmp_path / "plots" / "encoder.png")
    assert (tmp_path / "plots" / "encoder.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize("increase", [True, False])
def test_evaluate_decoder_on_the_trainer(trainer, increase):
    base = trainer.base_model
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    results = trainer.evaluate_decoder(increase=increase, learning_rates=(1e-2, 1e-1, 1.0, 10.0))
    for name, p in base.named_parameters():
        assert torch.equal(p, before[name]), name
    suffix = "" if increase else "_weaken"
    assert {f"3SG{suffix}", f"3PL{suffix}", "grid", "base", "settings"} == set(results)
    for key in (f"3SG{suffix}", f"3PL{suffix}"):
        entry = results[key]
        assert entry["lms"] >= 0.99 * entry["base_lms"] and entry["base_lms"] > 0.3
        assert entry["gain"] >= 0 or entry["learning_rate"] == 1e-2
    assert results["settings"]["split"] == "test" and results["settings"]["neutral_source"] == "neutral"
    assert len(results["grid"]) == 12


def test_evaluate_decoder_plot_and_product_policy(bert_trainer):
    out = bert_trainer.args.output_dir
    results = bert_trainer.evaluate_decoder(target_class="3PL", plot=True, policy="lms_times_metric",
                                            learning_rates=(1e-2, 1.0, 100.0), increase=None)
    assert set(results) == {"3PL", "3PL_weaken", "grid", "base", "settings", "plot_path"}
    assert results["plot_path"].endswith("decoder_test.png") and results["plot_path"].startswith(out)
    with open(results["plot_path"], "rb") as handle:
        assert handle.read(8) == PNG
    assert results["3PL"]["policy"] == "lms_times_metric"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda t: t.evaluate_decoder(target_class="2SG", plot=True), ValueError, "target_class='2SG'"),
        (lambda t: t.evaluate_decoder(policy="greedy", plot=True), ValueError, "policy='greedy'"),
        (lambda t: t.evaluate_decoder(plot="grid.notaformat"), ValueError, "needs a file suffix"),
        (lambda t: t.evaluate_decoder(split="holdout", plot=True), ValueError, "No rows for split 'holdout'"),
        (lambda t: t.evaluate_encoder(split="holdout", plot=True), ValueError, "No rows for split 'holdout'"),
        (lambda t: t.evaluate_encoder(max_size=0, plot=True), ValueError, "max_size=0"),
    ],
)
def test_bad_input_raises_before_writing_anything(bert_trainer, files_under, call, error, match):
    before = files_under(bert_trainer.args.output_dir)
    with pytest.raises(error, match=match):
        call(bert_trainer)
    assert files_under(bert_trainer.args.output_dir) == before


def test_a_split_with_no_rows(lm_bert, split_data, neutral_texts, tmp_path, trainer_class, files_under):
    model, tokenizer = lm_bert
    empty = split_data["test"].select([])
    data = DatasetDict(train=split_data["train"], validation=split_data["validation"], test=empty)
    args = GradiendTrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, gradient_batch_size=4,
                                     gradient_cache_dir=str(tmp_path / "cache"), disable_tqdm=True)
    trainer = trainer_class(copy.deepcopy(model), args=args, train_dataset=data, processing_class=tokenizer,
                eval_neutral_data=neutral_texts)
    before = files_under(tmp_path)
    for call in (trainer.evaluate_encoder, trainer.evaluate_decoder):
        with pytest.raises(ValueError, match="'test' split has no rows"):
            call(plot=True)
    assert files_under(tmp_path) == before


def test_target_words_cover_every_split(bert_trainer):
    assert bert_trainer.target_words() == {"3SG": ["he", "she", "it"], "3PL": ["they"]}


def test_post_pruning_rescales_the_encoder_only_when_asked(bert_trainer):
    direction = bert_trainer.get_model()
    plain = bert_trainer._post_prune(direction, PostPruneConfig(topk=0.1, rescale_encoder=False))
    rescaled = bert_trainer._post_prune(direction, PostPruneConfig(topk=0.1))
    assert torch.equal(plain.decoder.weight, rescaled.decoder.weight)
    assert torch.equal(plain.kept_coordinates, rescaled.kept_coordinates)
    ratio = (rescaled.encoder.weight / plain.encoder.weight).detach()
    assert float(ratio.mean()) > 1.0  # a tenth of the input is left, so the fitted scale grows w_e
    torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio.mean())))  # one scale for every weight
