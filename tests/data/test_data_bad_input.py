"""Bad input: each gives a clear error naming the value and the fix, and nothing is written."""

from __future__ import annotations

import datasets
import pytest
from datasets import Dataset

from hf_gradiend.data import TextFilterConfig, TextPredictionDataCreator


@pytest.fixture
def out(tmp_path, monkeypatch):
    """An output folder, with the datasets cache inside `tmp_path` too; yields a check that nothing was written."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")

    def nothing_written():
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]
        assert not (tmp_path / "out").exists()

    return tmp_path / "out", nothing_written


def test_empty_corpus(pronouns, out):
    output_dir, nothing_written = out
    for empty in ([], Dataset.from_dict({"text": []})):
        with pytest.raises(ValueError, match=r"base_data is empty \(0 texts\)"):
            TextPredictionDataCreator(empty, pronouns, output_dir=output_dir)
    empty = Dataset.from_dict({"text": ["he ran"]}).to_iterable_dataset().filter(lambda row: False)
    streamed = TextPredictionDataCreator(empty, pronouns, output_dir=output_dir)
    with pytest.raises(ValueError, match=r"base_data is empty \(0 texts\)"):
        streamed.generate_training_data()
    with pytest.raises(ValueError, match=r"base_data is empty \(0 texts\)"):
        streamed.generate_neutral_data()
    nothing_written()


def test_a_class_without_matches_names_class_words_and_rows_scanned(pronouns, sentences, out):
    output_dir, nothing_written = out
    creator = TextPredictionDataCreator(sentences * 2, [pronouns[0], TextFilterConfig(["we", "us"], id="1PL")],
                                        output_dir=output_dir)
    with pytest.raises(ValueError, match=r"Class '1PL' \(words \['we', 'us'\]\) has only 2 occurrence\(s\) in the 24"):
        creator.generate_training_data()
    creator = TextPredictionDataCreator(sentences * 2, [pronouns[0], TextFilterConfig(["you"], id="2")],
                                        output_dir=output_dir)
    with pytest.raises(ValueError, match=r"Class '2' \(words \['you'\]\) has no occurrence in the 24 texts scanned"):
        creator.generate_training_data()
    nothing_written()


def test_the_same_target_word_in_two_classes(sentences, out):
    output_dir, nothing_written = out
    with pytest.raises(ValueError, match=r"'it' is in class '3SG' and in class 'objects'.*Remove it from one class"):
        TextPredictionDataCreator(sentences, [TextFilterConfig(["he", "it"], id="3SG"),
                                              TextFilterConfig(["it", "them"], id="objects")], output_dir=output_dir)
    nothing_written()


def test_a_missing_text_column(pronouns, out):
    output_dir, nothing_written = out
    with pytest.raises(ValueError, match=r"no column text_column='text'; its columns are \['sentence'\]"):
        TextPredictionDataCreator(Dataset.from_dict({"sentence": ["he ran"]}), pronouns, output_dir=output_dir)
    streamed = Dataset.from_dict({"sentence": ["he ran"]}).to_iterable_dataset()
    with pytest.raises(ValueError, match="text_column="):
        TextPredictionDataCreator(streamed, pronouns, text_column="body", output_dir=output_dir)
    nothing_written()


def test_a_spacy_attribute_filter_without_a_pipeline(sentences, out):
    output_dir, nothing_written = out
    targets = [TextFilterConfig("her", id="poss", spacy_tags={"Poss": "Yes"}), TextFilterConfig("him", id="obj")]
    with pytest.raises(ValueError, match=r"Class 'poss' filters on token attributes .*'her'.*spacy_model="):
        TextPredictionDataCreator(sentences, targets, output_dir=output_dir)
    with pytest.raises(ValueError, match="use_lemma=True"):
        TextPredictionDataCreator(sentences, [TextFilterConfig("be", id="be", use_lemma=True)], output_dir=output_dir)
    with pytest.raises(ValueError, match="'en_core_web_xx' is not installed"):
        TextPredictionDataCreator(sentences, targets, spacy_model="en_core_web_xx", output_dir=output_dir)
    creator = TextPredictionDataCreator(sentences, [TextFilterConfig("he", id="a"), TextFilterConfig("they", id="b")],
                                        output_dir=output_dir)
    with pytest.raises(ValueError, match="excluded_spacy_tags=.*no tagger"):
        creator.generate_neutral_data(excluded_spacy_tags={"pos": "PRON"})
    nothing_written()


def test_max_size_per_class_below_the_split_minimum(pronouns, sentences, out):
    output_dir, nothing_written = out
    creator = TextPredictionDataCreator(sentences * 10, pronouns, output_dir=output_dir)
    with pytest.raises(ValueError, match=r"max_size_per_class=5 is below the split minimum 10.*>= 10"):
        creator.generate_training_data(max_size_per_class=5)
    with pytest.raises(ValueError, match="split minimum 4"):
        creator.generate_training_data(max_size_per_class=3, split_ratios=(0.5, 0.25, 0.25))
    assert len(creator.generate_training_data(max_size_per_class=2, split_ratios=(1, 0, 0))["train"]) == 4
    assert output_dir.exists()  # a successful run writes; the failed ones before did not


def test_other_argument_errors(pronouns, sentences):
    with pytest.raises(ValueError, match="min_left_context_words=-1"):
        TextPredictionDataCreator(sentences, pronouns, min_left_context_words=-1)
    with pytest.raises(ValueError, match="either spacy_model or tagger"):
        TextPredictionDataCreator(sentences, pronouns, spacy_model="x", tagger=lambda t: t)
    with pytest.raises(ValueError, match="feature_targets is empty"):
        TextPredictionDataCreator(sentences)
    with pytest.raises(ValueError, match="max_size=0"):
        TextPredictionDataCreator(sentences, pronouns).generate_neutral_data(max_size=0)
    with pytest.raises(ValueError, match="single words"):
        TextPredictionDataCreator(sentences, pronouns).generate_neutral_data(additional_excluded_words=["a b"])
