"""TextFilterConfig, tag filters and class checks."""

from __future__ import annotations

import pytest

from hf_gradiend.data import TaggedToken, TextFilterConfig
from hf_gradiend.data.filters import TagFilter, check_classes


def test_id_defaults_to_the_first_target_and_a_string_is_one_target():
    config = TextFilterConfig("they")
    assert config.id == "they" and config.words == ["they"] and not config.needs_tagger
    assert TextFilterConfig(["he", "she"]).id == "he"


def test_nested_configs_inherit_unset_settings_and_override_set_ones():
    config = TextFilterConfig(
        ["er", TextFilterConfig("der", spacy_tags="Case=Nom|Gender=Masc"),
         TextFilterConfig("Sie", case_sensitive=True)],
        id="masc", spacy_tags={"pos": "PRON"}, min_left_context_words=2,
    )
    specs = {s.word: s for s in config.word_specs}
    assert specs["er"].tags == TagFilter.parse({"pos": "PRON"})
    assert specs["der"].tags == TagFilter.parse({"Case": "Nom", "Gender": "Masc"})
    assert specs["Sie"].tags == specs["er"].tags and specs["Sie"].case_sensitive and not specs["er"].case_sensitive
    assert {s.class_id for s in config.word_specs} == {"masc"}
    assert all(s.min_left_context_words == 2 for s in config.word_specs)
    assert config.needs_tagger


@pytest.mark.parametrize("targets", [[], ["two words"], [""], [" he"], [3]])
def test_bad_targets_are_refused(targets):
    with pytest.raises((ValueError, TypeError), match="target"):
        TextFilterConfig(targets, id="x")


def test_tag_filter_forms_and_matching():
    token = TaggedToken("die", 0, lemma="der", pos="DET", morph={"Case": "Nom", "Gender": "Fem", "Number": "Sing"})
    assert TagFilter.parse("Case=Nom|Gender=Fem").accepts(token)
    assert TagFilter.parse({"pos": ["DET", "PRON"], "Case": "Nom"}).accepts(token)
    assert TagFilter.parse({"morph": "Case=Nom", "lemma": "der"}).accepts(token)
    assert not TagFilter.parse({"Number": "Plur"}).accepts(token)
    assert not TagFilter.parse({"POS": "PRON"}).accepts(token)  # attribute names are case-insensitive
    for bad in ({}, {"Case": 3}, "Case", {"morph": "Case=|x"}):
        with pytest.raises((TypeError, ValueError)):
            TagFilter.parse(bad)


def test_the_same_word_in_two_classes_is_refused_unless_tags_or_case_tell_them_apart():
    with pytest.raises(ValueError, match=r"'he'.*'A'.*'B'|'He'.*'A'.*'B'"):
        check_classes([TextFilterConfig(["he", "she"], id="A"), TextFilterConfig(["He"], id="B")])
    with pytest.raises(ValueError, match="spacy_tags"):  # the same tags do not tell them apart either
        check_classes([TextFilterConfig("die", id="A", spacy_tags="Gender=Fem"),
                       TextFilterConfig("die", id="B", spacy_tags="Gender=Fem")])
    check_classes([TextFilterConfig("die", id="fem", spacy_tags="Gender=Fem"),
                   TextFilterConfig("die", id="plur", spacy_tags="Number=Plur")])
    check_classes([TextFilterConfig("Sie", id="formal", case_sensitive=True),
                   TextFilterConfig("sie", id="she", case_sensitive=True)])


def test_class_list_errors():
    with pytest.raises(ValueError, match="feature_targets is empty"):
        check_classes([])
    with pytest.raises(ValueError, match="share the id 'x'"):
        check_classes([TextFilterConfig("a", id="x"), TextFilterConfig("b", id="x")])
    with pytest.raises(TypeError, match="TextFilterConfig"):
        check_classes(["he"])
