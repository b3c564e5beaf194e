"""Target words in evaluation texts: class vocabularies, finding and dropping them, masking a non-target word."""

from __future__ import annotations

import logging
import random
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..data.locator import compile_words
from ..gradients.objectives import TextObjective

logger = logging.getLogger(__name__)

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
"""A word for random masking: letters, optionally joined by an apostrophe (digits and underscores excluded)."""


def class_words(rows: Any, feature_classes: Sequence[str]) -> dict[str, list[str]]:
    """
    The words of each feature class, in order of first appearance: factual words of rows of that class and
    alternative words whose `alternative_class` is that class.

    Args:
        rows: Rows with `factual`, `alternative`, `factual_class` and `alternative_class` (a `Dataset` or a list of
            such `Dataset`s, e.g. every split of a trainer).
        feature_classes (`list[str]`): The classes to collect words for.

    Returns:
        `dict[str, list[str]]` mapping each class to its words (possibly empty).
    """
    datasets = rows if isinstance(rows, (list, tuple)) else [rows]
    words: dict[str, dict[str, None]] = {c: {} for c in feature_classes}
    for dataset in datasets:
        pairs = zip(dataset["factual"], dataset["factual_class"], dataset["alternative"], dataset["alternative_class"],
                    strict=True)
        for factual, factual_class, alternative, alternative_class in pairs:
            if factual_class in words:
                words[factual_class].setdefault(factual, None)
            if alternative_class in words:
                words[alternative_class].setdefault(alternative, None)
    return {c: list(w) for c, w in words.items()}


def case_variants(word: str) -> list[str]:
    """`word` and its lower-case, capitalised and upper-case forms, without duplicates, `word` first."""
    return list(dict.fromkeys([word, word.lower(), word[:1].upper() + word[1:], word.upper()]))


def word_pattern(words: Iterable[str]) -> re.Pattern | None:
    """
    A case-insensitive pattern matching any of `words` as a whole word (not inside a longer word, not the tail after
    an apostrophe as in "Hawai'i"), as data creation matches them; `None` for no words.
    """
    return compile_words(w for w in words if w)


def word_spans(text: str, pattern: re.Pattern | None) -> list[tuple[int, int]]:
    """Character spans of the target words in `text`."""
    return [] if pattern is None else [m.span() for m in pattern.finditer(text)]


def drop_texts_with_words(
    texts: Sequence[str], words: Iterable[str], what: str = "neutral data"
) -> tuple[list[str], int]:
    """
    Drop texts that contain any of `words` (whole words, any case), warning with the count.

    Args:
        texts (`list[str]`): Candidate texts.
        words (`list[str]`): Target words that must not appear.
        what (`str`): How the texts are named in the warning.

    Returns:
        `(kept_texts, dropped_count)`.
    """
    pattern = word_pattern(words)
    if pattern is None:
        return list(texts), 0
    kept = [t for t in texts if not pattern.search(t)]
    dropped = len(texts) - len(kept)
    if dropped:
        warnings.warn(
            f"{dropped} of {len(texts)} texts of the {what} contain target words (e.g. "
            f"{next(t for t in texts if pattern.search(t))!r}); they are dropped. Neutral texts should not contain "
            "the feature's words (TextPredictionDataCreator.generate_neutral_data excludes them).",
            stacklevel=3,
        )
    return kept, dropped


def mask_random_word(
    text: str, excluded: re.Pattern | None, objective: TextObjective, rng: random.Random
) -> tuple[str, str] | None:
    """
    Replace one randomly chosen non-target word of `text` by the objective's placeholder.

    Words are tried in random order until one the objective can encode as a target (in the vocabulary, not merged
    with its neighbours, with left context for a causal LM).

    Args:
        text (`str`): A plain text.
        excluded (`re.Pattern`, *optional*): Target words that must not be chosen (see [`word_pattern`]).
        objective ([`TextObjective`]): Defines the placeholder and what counts as encodable.
        rng (`random.Random`): Source of randomness (seeded by the caller).

    Returns:
        `(masked_text, word)`, or `None` when no word of `text` can be masked.
    """
    forbidden = word_spans(text, excluded)
    candidates = [
        m for m in WORD.finditer(text)
        if not any(m.start() < end and m.end() > start for start, end in forbidden)
    ]
    rng.shuffle(candidates)
    for match in candidates:
        masked = text[: match.start()] + objective.placeholder + text[match.end():]
        try:
            objective.encode(masked, match.group())
        except ValueError:
            continue
        return masked, match.group()
    return None


def all_words(words_by_class: Mapping[str, Sequence[str]]) -> list[str]:
    """Every word of every class, once."""
    return list(dict.fromkeys(w for words in words_by_class.values() for w in words))
