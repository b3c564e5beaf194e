"""generate_neutral_data: texts without any target word, extra words or excluded tags."""

from __future__ import annotations

import re

from hf_gradiend.data import TextFilterConfig, TextPredictionDataCreator, load_wordnet


def _words(text):
    return set(re.findall(r"\w+", text.lower()))


def test_neutral_texts_contain_no_target_and_no_excluded_word(pronouns, sentences):
    creator = TextPredictionDataCreator(sentences, pronouns)
    neutral = creator.generate_neutral_data()
    assert neutral.column_names == ["text"]
    assert sorted(neutral["text"]) == sorted([
        "We stayed at home and read the newspaper quietly.",
        "The theme of the evening was friendship and music.",  # "the", "theme" are not "he"
        "Then the shepherd led the sheep over the hill.",
    ])
    fewer = creator.generate_neutral_data(additional_excluded_words=["we", "sheep"])
    assert fewer["text"] == ["The theme of the evening was friendship and music."]


def test_max_size_is_a_seeded_sample(pronouns):
    creator = TextPredictionDataCreator(list(load_wordnet()["text"][:3000]), pronouns)
    everything = creator.generate_neutral_data()
    sample = creator.generate_neutral_data(max_size=100)
    assert len(sample) == 100 and set(sample["text"]) <= set(everything["text"])
    assert sample["text"] == creator.generate_neutral_data(max_size=100)["text"]
    assert sample["text"] != creator.generate_neutral_data(max_size=100, seed=1)["text"]
    assert all(not _words(t) & {"he", "she", "it", "they"} for t in everything["text"])
    assert len(everything) > 1500


def test_another_corpus_and_excluded_tags(pronouns, english):
    creator = TextPredictionDataCreator(["he ran"], pronouns, spacy_model=english)
    texts = ["We sang all night.", "The dog sang all night.", "She sang.", "Birds sing at dawn."]
    neutral = creator.generate_neutral_data(base_data=texts, excluded_spacy_tags={"pos": "PRON"})
    assert sorted(neutral["text"]) == ["Birds sing at dawn.", "The dog sang all night."]
    by_morph = creator.generate_neutral_data(base_data=texts, excluded_spacy_tags=["Number=Plur"])
    assert sorted(by_morph["text"]) == ["The dog sang all night."]  # "We" and "Birds" are plural


def test_lemma_targets_exclude_every_form(english):
    creator = TextPredictionDataCreator(
        ["It is late.", "They were late.", "Birds sing.", "Be quiet."],
        [TextFilterConfig("be", id="be", use_lemma=True), TextFilterConfig("sing", id="sing", use_lemma=True)],
        spacy_model=english,
    )
    assert creator.generate_neutral_data()["text"] == []
    assert TextPredictionDataCreator(
        ["It is late.", "Birds fly."], [TextFilterConfig("be", id="be", use_lemma=True),
                                        TextFilterConfig("sing", id="sing", use_lemma=True)], spacy_model=english,
    ).generate_neutral_data()["text"] == ["Birds fly."]
