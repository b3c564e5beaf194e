"""Alternatives (counterfactual words): chosen per row from the seed, in the case of the factual occurrence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from .sampling import unit_interval

_ALTERNATIVE_SALT = 0xA17E


def match_case(alternative: str, factual: str, written: Collection[str] = ()) -> str:
    """
    Write `alternative` in the case of the occurrence `factual`: "He" → "They", "HE" → "THEY", "he" → "they". An
    occurrence written exactly as its target (e.g. "I", or a case-sensitive target) keeps the alternative as given.
    """
    if factual in written or factual == factual.lower():
        return alternative
    if len(factual) > 1 and factual.isupper():
        return alternative.upper()
    if factual[:1].isupper():
        return alternative[:1].upper() + alternative[1:]
    return alternative


def normalise_alternatives(alternatives: Mapping[str, str | Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """`{word: alternative or [alternatives]}` with lower-cased keys and tuple values; validates the types."""
    result: dict[str, tuple[str, ...]] = {}
    for word, value in (alternatives or {}).items():
        values = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Sequence) else None
        if not isinstance(word, str) or not values or not all(isinstance(v, str) and v for v in values):
            raise TypeError(
                f"alternatives[{word!r}]={value!r}: map each word to an alternative word or a list of them, "
                "e.g. {'he': 'they', 'they': ['he', 'she']}."
            )
        if any(v.lower() == word.lower() for v in values):
            raise ValueError(f"alternatives[{word!r}]={value!r} lists the word itself; an alternative must differ.")
        result[word.lower()] = values
    return result


def choose_alternatives(
    words: np.ndarray,
    keys: np.ndarray,
    pool: Counter,
    explicit: Mapping[str, tuple[str, ...]],
    class_id: str,
    other_id: str,
) -> np.ndarray:
    """
    One alternative word per row (lower-case form; the caller applies the case): `explicit[word]` when given (one
    of its entries, picked from the row's key), else a word of the other class drawn from `pool` (the other
    class's word counts) in proportion to its frequency, never the row's own word.

    Args:
        words (`np.ndarray`): Each row's own word (lookup form).
        keys (`np.ndarray`): Each row's sampling key (uint64).
        pool (`Counter`): Word counts of the other class.
        explicit (`Mapping[str, tuple[str, ...]]`): Explicit alternatives by word.
        class_id (`str`), other_id (`str`): Names for error messages.
    """
    u = unit_interval(keys, _ALTERNATIVE_SALT)
    chosen = np.empty(len(words), dtype=object)
    for word in dict.fromkeys(words.tolist()):
        where = np.flatnonzero(words == word)
        given = explicit.get(word.lower())
        if given:
            chosen[where] = np.asarray(given, dtype=object)[(u[where] * len(given)).astype(np.int64)]
            continue
        candidates = [(w, c) for w, c in sorted(pool.items()) if w != word]  # lookup forms: "Sie" != "sie"
        if not candidates:
            raise ValueError(
                f"Rows of class {class_id!r} with the word {word!r} have no alternative: class {other_id!r} has no "
                f"other word ({sorted(pool)}). Pass alternatives={{{word!r}: '...'}}."
            )
        cumulative = np.cumsum([c for _, c in candidates], dtype=np.float64)
        index = np.searchsorted(cumulative, u[where] * cumulative[-1], side="right")
        chosen[where] = np.asarray([w for w, _ in candidates], dtype=object)[np.minimum(index, len(candidates) - 1)]
    return chosen
