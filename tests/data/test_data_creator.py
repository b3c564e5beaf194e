"""TextPredictionDataCreator.generate_training_data: rows, options, determinism, saving, the trainer contract."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from hf_gradiend.data import TRAINING_FEATURES, TextFilterConfig, TextPredictionDataCreator, load_wordnet

COLUMNS = ["text", "masked", "factual", "alternative", "factual_class", "alternative_class", "label"]
RATIOS = (0.5, 0.25, 0.25)  # small corpora: every split gets a row from 4 rows per class


def _rows(data: DatasetDict) -> list[dict]:
    return [row for split in data.values() for row in split]


def _check_rows(data: DatasetDict, placeholder: str = "[MASK]"):
    """Invariants every output row satisfies."""
    assert list(data) == [s for s in ("train", "validation", "test") if s in data] and "train" in data
    for split in data.values():
        assert split.column_names == COLUMNS and split.features == TRAINING_FEATURES
    classes = list(dict.fromkeys(r["factual_class"] for r in _rows(data)))
    for row in _rows(data):
        assert row["masked"].count(placeholder) == 1
        assert row["masked"].replace(placeholder, row["factual"]) == row["text"]
        assert row["factual_class"] != row["alternative_class"]
        assert row["label"] == (1 if row["factual_class"] == data["train"][0]["factual_class"] else -1)
        assert row["alternative"].lower() != row["factual"].lower()
    return classes


def test_three_line_workflow_on_the_bundled_wordnet_corpus():
    creator = TextPredictionDataCreator(
        base_data="wordnet", feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"),
                                              TextFilterConfig(["they"], id="3PL")])
    training_data = creator.generate_training_data(max_size_per_class=2500)
    neutral_data = creator.generate_neutral_data(additional_excluded_words=["i", "we", "you"], max_size=1000)

    counts = Counter(r["factual_class"] for r in _rows(training_data))
    assert counts["3SG"] >= 1000 and counts["3PL"] >= 800 and counts["3SG"] <= 2500
    _check_rows(training_data)
    assert training_data["train"][0]["label"] == 1 and training_data["train"][0]["factual_class"] == "3SG"
    pairs = Counter((r["factual"], r["alternative"]) for r in _rows(training_data))
    assert pairs[("He", "They")] > 0 and pairs[("They", "He")] > 0 and pairs[("he", "They")] == 0
    assert {a.lower() for f, a in pairs if f.lower() == "they"} == {"he", "she", "it"}
    assert len(neutral_data) == 1000 and neutral_data.column_names == ["text"]
    for text in neutral_data["text"]:
        assert not set(text.lower().replace(",", " ").replace(".", " ").split()) & {
            "he", "she", "it", "they", "i", "we", "you"}
    split_sizes = {name: len(split) for name, split in training_data.items()}
    assert split_sizes["validation"] == split_sizes["test"] > 0 and split_sizes["train"] > 7 * split_sizes["test"]


def test_one_row_per_occurrence_the_others_left_intact(pronouns):
    texts = ["He said he was late.", "They know it.", "they came", "he went", "They left", "It rained.", "she sang",
             "they sang", "They danced", "she said they would"]
    data = TextPredictionDataCreator(texts, pronouns).generate_training_data(split_ratios=RATIOS)
    masked = sorted(r["masked"] for r in _rows(data) if r["text"] == "He said he was late.")
    assert masked == ["He said [MASK] was late.", "[MASK] said he was late."]
    both = sorted((r["masked"], r["factual_class"]) for r in _rows(data) if r["text"] == "she said they would")
    assert both == [("[MASK] said they would", "3SG"), ("she said [MASK] would", "3PL")]
    assert len(_rows(data)) == 13
    _check_rows(data)


def test_case_is_carried_over_to_the_alternative(pronouns):
    texts = ["He left.", "HE LEFT.", "he left.", "They left.", "THEY LEFT.", "they left.", "She left.", "it fell."]
    data = TextPredictionDataCreator(texts, pronouns).generate_training_data(
        split_ratios=(1, 0, 0), alternatives={"he": "they", "she": "they", "it": "they", "they": "she"})
    pairs = {r["factual"]: r["alternative"] for r in data["train"]}
    assert pairs == {"He": "They", "HE": "THEY", "he": "they", "They": "She", "THEY": "SHE", "they": "she",
                     "She": "They", "it": "they"}
    assert list(data) == ["train"]  # splits with ratio 0 are left out


def test_alternatives_are_deterministic_and_follow_the_other_class_distribution(pronouns):
    texts = load_wordnet()["text"][:6000]
    first = TextPredictionDataCreator(list(texts), pronouns, seed=3).generate_training_data()
    again = TextPredictionDataCreator(list(texts), pronouns, seed=3).generate_training_data()
    other = TextPredictionDataCreator(list(texts), pronouns, seed=4).generate_training_data()
    assert all(first[s].to_list() == again[s].to_list() for s in first)
    assert first["train"].to_list() != other["train"].to_list()
    alternatives = Counter(r["alternative"].lower() for r in _rows(first) if r["factual_class"] == "3PL")
    factual = Counter(r["factual"].lower() for r in _rows(first) if r["factual_class"] == "3SG")
    share = {w: alternatives[w] / sum(alternatives.values()) for w in ("he", "she", "it")}
    expected = {w: factual[w] / sum(factual.values()) for w in ("he", "she", "it")}
    assert all(abs(share[w] - expected[w]) < 0.1 for w in share), (share, expected)


def test_explicit_alternatives_and_their_errors(pronouns, sentences):
    creator = TextPredictionDataCreator(sentences * 3, pronouns)
    data = creator.generate_training_data(alternatives={"he": "they", "she": "they", "it": "they",
                                                        "they": ["she", "it"]}, split_ratios=RATIOS)
    assert {r["alternative"].lower() for r in _rows(data) if r["factual_class"] == "3PL"} == {"she", "it"}
    with pytest.raises(ValueError, match="lists the word itself"):
        creator.generate_training_data(alternatives={"he": "he"}, split_ratios=RATIOS)
    with pytest.raises(ValueError, match=r"\['hello'\]"):
        creator.generate_training_data(alternatives={"hello": "they"}, split_ratios=RATIOS)
    with pytest.raises(TypeError, match="alternatives"):
        creator.generate_training_data(alternatives={"he": 3}, split_ratios=RATIOS)


def test_min_left_context_words_globally_and_per_class(sentences):
    targets = [TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")]
    data = TextPredictionDataCreator(sentences * 4, targets, min_left_context_words=3).generate_training_data(
        split_ratios=RATIOS)
    for row in _rows(data):
        assert len(row["masked"].split("[MASK]")[0].split()) >= 3
    assert "The children said they were tired after school." in {r["text"] for r in _rows(data)}
    per_class = [TextFilterConfig(["he", "she", "it"], id="3SG", min_left_context_words=0),
                 TextFilterConfig(["they"], id="3PL")]
    data = TextPredictionDataCreator(sentences * 4, per_class, min_left_context_words=3).generate_training_data(
        split_ratios=RATIOS)
    contexts = {r["factual_class"]: set() for r in _rows(data)}
    for row in _rows(data):
        contexts[row["factual_class"]].add(len(row["masked"].split("[MASK]")[0].split()))
    assert min(contexts["3SG"]) == 0 and min(contexts["3PL"]) >= 3


def test_class_merge_map_and_feature_classes(sentences):
    targets = [TextFilterConfig(["i"], id="1SG"), TextFilterConfig(["he", "she", "it"], id="3SG"),
               TextFilterConfig(["we"], id="1PL"), TextFilterConfig(["they"], id="3PL")]
    texts = sentences * 2 + ["I think we should go.", "We said I was right.", "I know.", "We know."] * 2
    creator = TextPredictionDataCreator(texts, targets)
    with pytest.raises(ValueError, match="4 classes"):
        creator.generate_training_data(split_ratios=RATIOS)
    merged = creator.generate_training_data(
        class_merge_map={"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]}, split_ratios=RATIOS)
    rows = _rows(merged)
    assert _check_rows(merged) == ["singular", "plural"]
    assert {r["factual"].lower() for r in rows if r["factual_class"] == "plural"} == {"we", "they"}
    assert {r["factual"].lower() for r in rows if r["factual_class"] == "singular"} == {"i", "he", "she", "it"}
    picked = creator.generate_training_data(feature_classes=["3PL", "1SG"], split_ratios=RATIOS)
    assert {r["factual_class"] for r in _rows(picked)} == {"3PL", "1SG"}
    assert all(r["label"] == (1 if r["factual_class"] == "3PL" else -1) for r in _rows(picked))
    with pytest.raises(ValueError, match="not a configured class"):
        creator.generate_training_data(class_merge_map={"x": ["2SG"]})
    with pytest.raises(ValueError, match="merged twice"):
        creator.generate_training_data(class_merge_map={"x": ["1SG"], "y": ["1SG", "3SG"]})
    with pytest.raises(ValueError, match="not among the classes"):
        creator.generate_training_data(feature_classes=["3PL", "2SG"])


def test_vocabulary_held_out_split_keeps_test_words_out_of_training():
    names = ["anna", "maria", "julia", "sofia", "emma", "laura"], ["paul", "peter", "jonas", "lukas", "felix", "max"]
    texts = [f"Yesterday {n.capitalize()} {verb} home." for n in names[0] + names[1]
             for verb in ("walked", "ran", "drove", "went")]
    targets = [TextFilterConfig(names[0], id="female"), TextFilterConfig(names[1], id="male")]
    data = TextPredictionDataCreator(texts, targets).generate_training_data(held_out_vocabulary=True,
                                                                            split_ratios=(0.6, 0.2, 0.2))
    words = {s: {r["factual"].lower() for r in data[s]} | {r["alternative"].lower() for r in data[s]} for s in data}
    assert words["train"] and words["validation"] and words["test"]
    assert not words["train"] & words["test"] and not words["train"] & words["validation"]
    assert not words["validation"] & words["test"]
    _check_rows(data)
    with pytest.raises(ValueError, match="distinct words"):
        TextPredictionDataCreator(texts + ["they came"] * 12, [targets[0], TextFilterConfig("they", id="3PL")]
                                  ).generate_training_data(held_out_vocabulary=True)


def test_split_ratios_balance_and_max_size(pronouns):
    texts = list(load_wordnet()["text"][:8000])
    creator = TextPredictionDataCreator(texts, pronouns)
    capped = creator.generate_training_data(max_size_per_class=100, split_ratios=(0.7, 0.2, 0.1))
    counts = Counter((split, r["factual_class"]) for split in capped for r in capped[split])
    assert counts == {("train", "3SG"): 70, ("validation", "3SG"): 20, ("test", "3SG"): 10,
                      ("train", "3PL"): 70, ("validation", "3PL"): 20, ("test", "3PL"): 10}
    balanced = creator.generate_training_data(balance=True)
    per_class = Counter(r["factual_class"] for r in _rows(balanced))
    assert per_class["3SG"] == per_class["3PL"]
    unbalanced = Counter(r["factual_class"] for r in _rows(creator.generate_training_data()))
    assert unbalanced["3SG"] > unbalanced["3PL"] == per_class["3PL"]
    smaller = creator.generate_training_data(max_size_per_class=50, split_ratios=(0.7, 0.2, 0.1))
    assert set(map(str, smaller["train"]["text"])) <= set(map(str, capped["train"]["text"])) | set(
        map(str, capped["validation"]["text"])) | set(map(str, capped["test"]["text"]))
    for bad in ((0.5, 0.5), (0.5, 0.3, 0.3), (0, 0.5, 0.5), (1.1, -0.1, 0)):
        with pytest.raises(ValueError, match="split_ratios"):
            creator.generate_training_data(split_ratios=bad)


def test_custom_placeholder(pronouns, sentences):
    data = TextPredictionDataCreator(sentences * 2, pronouns, mask_placeholder="<mask>").generate_training_data(
        split_ratios=RATIOS)
    _check_rows(data, "<mask>")


def test_streamed_corpus_and_num_proc_give_the_same_rows(pronouns):
    texts = list(load_wordnet()["text"][:5000])
    plain = TextPredictionDataCreator(texts, pronouns).generate_training_data(max_size_per_class=300)
    dataset = Dataset.from_dict({"text": texts})
    streamed = TextPredictionDataCreator(dataset.to_iterable_dataset(num_shards=3), pronouns,
                                         batch_size=700).generate_training_data(max_size_per_class=300)
    parallel = TextPredictionDataCreator(dataset, pronouns, num_proc=2, batch_size=900).generate_training_data(
        max_size_per_class=300)
    for split in plain:
        assert plain[split].to_list() == streamed[split].to_list() == parallel[split].to_list()


def test_save_to_disk_and_parquet_reload_unchanged(pronouns, sentences, tmp_path):
    creator = TextPredictionDataCreator(sentences * 2, pronouns, output_dir=tmp_path / "hf")
    data = creator.generate_training_data(split_ratios=RATIOS)
    neutral = creator.generate_neutral_data()
    reloaded = load_from_disk(str(tmp_path / "hf" / "training"))
    assert all(reloaded[s].to_list() == data[s].to_list() for s in data)
    assert load_from_disk(str(tmp_path / "hf" / "neutral"))["text"] == neutral["text"]
    assert not [p for p in (tmp_path / "hf").iterdir() if p.name.startswith(".")]  # no temporary folder left

    creator = TextPredictionDataCreator(sentences * 2, pronouns, output_dir=tmp_path / "pq", output_format="parquet")
    data = creator.generate_training_data(split_ratios=RATIOS)
    files = {s: str(tmp_path / "pq" / "training" / f"{s}.parquet") for s in data}
    reloaded = load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache"))
    assert all(reloaded[s].to_list() == data[s].to_list() for s in data)
    data = creator.generate_training_data(split_ratios=RATIOS, seed=7)  # overwrites in place
    assert Dataset.from_parquet(files["train"], cache_dir=str(tmp_path / "cache")).to_list() == data["train"].to_list()
    with pytest.raises(ValueError, match="output_format"):
        TextPredictionDataCreator(sentences, pronouns, output_format="csv")


def test_the_trainer_accepts_the_output_unchanged(bert, tmp_path):
    from hf_gradiend import GradiendTrainer, GradiendTrainingArguments
    from hf_gradiend.testing_utils import toy_templates

    texts = [t.replace("[MASK]", w) for t in toy_templates() for w in ("he", "she", "it", "they")]
    data = TextPredictionDataCreator(texts, [TextFilterConfig(["he", "she", "it"], id="3SG"),
                                             TextFilterConfig(["they"], id="3PL")]).generate_training_data(
        split_ratios=(0.75, 0.25, 0))
    data.save_to_disk(str(tmp_path / "data"))
    args = GradiendTrainingArguments(output_dir=str(tmp_path / "out"), max_steps=2, gradient_batch_size=2,
                                     use_cpu=True, disable_tqdm=True, logging_strategy="no")
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=args, train_dataset=load_from_disk(str(tmp_path / "data")),
                              processing_class=bert[1])
    assert trainer.feature_classes == ["3SG", "3PL"]
    trainer.train()
    metrics = trainer.evaluate()
    assert "eval_correlation" in metrics
