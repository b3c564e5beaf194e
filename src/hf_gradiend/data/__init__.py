"""Feature data creation: class-labelled masked rows and feature-neutral texts from a corpus."""

from __future__ import annotations

from .assembly import TRAINING_FEATURES
from .corpus import bundled_corpus_path, load_base_data, load_wordnet, split_into_sentences
from .creator import TextPredictionDataCreator
from .filters import TextFilterConfig
from .tagging import SpacyTagger, TaggedToken

__all__ = [
    "TRAINING_FEATURES",
    "SpacyTagger",
    "TaggedToken",
    "TextFilterConfig",
    "TextPredictionDataCreator",
    "bundled_corpus_path",
    "load_base_data",
    "load_wordnet",
    "split_into_sentences",
]
