"""WordLocator and TargetMatcher: whole-word matching, vectorised and Python paths agree."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest

from hf_gradiend.data import TaggedToken, TextFilterConfig
from hf_gradiend.data.locator import WordLocator, compile_words, find_all
from hf_gradiend.data.matcher import TargetMatcher


def _spans(locator, texts):
    index, start, end, group = locator.locate(pa.array(texts, pa.string()))
    return list(zip(index.tolist(), start.tolist(), end.tolist(), group.tolist(), strict=True))


def test_whole_words_in_any_case_with_their_group():
    locator = WordLocator({"he": 0, "she": 0, "they": 1})
    texts = ["He said he'd go; the theme then", "shed she SHE", "they-they they's", "nothing here"]
    assert _spans(locator, texts) == [
        (0, 0, 2, 0), (0, 8, 10, 0), (1, 5, 8, 0), (1, 9, 12, 0), (2, 0, 4, 1), (2, 5, 9, 1), (2, 10, 14, 1)
    ]
    assert locator.contains(pa.array(texts)).tolist() == [True, True, True, False]


def test_case_sensitive_words_match_only_as_written():
    locator = WordLocator({}, {"Sie": 0, "sie": 1})
    assert [(s, g) for _, s, _, g in _spans(locator, ["Sie sagt, sie komme. SIE"])] == [(0, 0), (10, 1)]


def test_non_ascii_texts_use_unicode_word_boundaries():
    locator = WordLocator({"he": 0})
    # "é" is a word character for Python's `re`, not for RE2: "éhe" holds no whole-word "he"
    texts = ["éhe he", "café he", "he", "naïve he is"]
    assert _spans(locator, texts) == [(0, 4, 6, 0), (1, 5, 7, 0), (2, 0, 2, 0), (3, 6, 8, 0)]


@pytest.mark.parametrize("apostrophe", ["'", "\u2019"])
def test_a_word_after_an_apostrophe_inside_a_word_is_not_an_occurrence(apostrophe):
    locator = WordLocator({"i": 0, "clock": 0, "it": 1, "he": 1})
    texts = [
        f"Hawai{apostrophe}i is where i live",  # the tail "i" is part of "Hawai'i"; the second "i" is the pronoun
        f"five o{apostrophe}clock",
        f"it{apostrophe}s late, {apostrophe}he{apostrophe} said",  # a contraction's head and a quoted word count
        f"naïve Hawai{apostrophe}i",  # non-ASCII: the Python path
    ]
    assert _spans(locator, texts) == [(0, 17, 18, 0), (2, 0, 2, 1), (2, 12, 14, 1)]
    assert locator.contains(pa.array(texts)).tolist() == [True, False, True, False]


def test_data_creation_skips_the_tail_of_a_word_after_an_apostrophe():
    matcher = TargetMatcher([s for c in (TextFilterConfig(["i"], id="1SG"), TextFilterConfig("we", id="1PL"))
                             for s in c.word_specs])
    out = matcher({"text": ["On Hawai'i we met", "Hawai'i, as i said"]}, [0, 1])
    assert list(zip(out["row"].tolist(), out["start"].tolist(), strict=True)) == [(0, 11), (1, 12)]
    assert [matcher.class_ids[c] for c in out["class"].tolist()] == ["1PL", "1SG"]


def test_vectorised_and_python_paths_agree_on_random_text():
    rng = random.Random(0)
    pieces = ["he", "He", "HE", "she", "they", "the", "them", "it", "its", "é", "ü", " ", " ", ", ", ".", "'", "-",
              "x", "\n", "_", "1"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(400)]
    words = {"he": 0, "she": 0, "it": 0, "they": 1}
    pattern = compile_words(words)
    python = [(i, s, e) for i, s, e in find_all(pattern, texts)]
    located = [(i, s, e) for i, s, e, _ in _spans(WordLocator(words), texts)]
    assert located == python
    assert len(python) > 100
    assert WordLocator(words).contains(pa.array(texts)).tolist() == [
        any(i == k for i, _, _ in python) for k in range(len(texts))
    ]


def test_words_with_punctuation_fall_back_to_python():
    locator = WordLocator({"o'clock": 0, "co-op": 0})
    assert not locator.vectorised
    assert [(s, e) for _, s, e, _ in _spans(locator, ["at five o'clock the co-op opened", "co-ops"])] == [
        (8, 15), (20, 25)
    ]


def test_matcher_outputs_one_row_per_occurrence_with_its_class():
    matcher = TargetMatcher([s for c in (TextFilterConfig(["he"], id="A"), TextFilterConfig("they", id="B"))
                             for s in c.word_specs])
    out = matcher({"text": ["no target", "he and they and HE"]}, [10, 11])
    assert out["row"].tolist() == [11, 11, 11]
    assert out["start"].tolist() == [0, 7, 16]
    assert [matcher.class_ids[c] for c in out["class"].tolist()] == ["A", "B", "A"]


def test_matcher_with_a_tagger_checks_the_token_at_the_span():
    def tagger(texts):  # the first word of a text is a pronoun, every other word a noun
        tokens = []
        for text in texts:
            starts = [m.start() for m in re.finditer(r"\S+", text)]
            tokens.append([TaggedToken(text[s:].split()[0], s, pos="NOUN" if k else "PRON")
                           for k, s in enumerate(starts)])
        return tokens

    config = TextFilterConfig("it", id="A", spacy_tags={"pos": "PRON"})
    matcher = TargetMatcher(config.word_specs, tagger=tagger)
    out = matcher({"text": ["it it", "x it"]}, [0, 1])
    assert out["row"].tolist() == [0]  # the second "it" is a NOUN by this tagger; in "x it" as well
    with pytest.raises(ValueError, match="tagger"):
        TargetMatcher(config.word_specs)


def test_tagged_token_from_mapping_and_errors():
    assert TaggedToken.coerce({"text": "die", "start": 3, "pos": "DET", "other": 1}).end == 6
    with pytest.raises(TypeError, match="start"):
        TaggedToken.coerce({"text": "die"})
