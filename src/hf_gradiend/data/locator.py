"""WordLocator: finds whole-word occurrences of many words in a batch of texts, vectorised over Arrow arrays.

A text is ASCII-only in most corpora; for those, RE2 (`pyarrow.compute`) gives the same whole-word matches as
Python's `re` and runs without a Python step per text: one test per batch finds the texts with any word, and one
split per word length gives every occurrence's offset. Other texts (and words that RE2 cannot treat the same way)
go through one compiled Python pattern.

A word right after an apostrophe that follows a word character is the tail of a longer word ("Hawai'i", "o'clock"):
it is not an occurrence. The head of a contraction ("it's", "they're") is, and so is a word after a quote ("'he'").
RE2 has no lookbehind, so ASCII texts that hold such a tail go the Python way too.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")
APOSTROPHES = "'\u2019"
"""Apostrophes that join a word to its tail (straight and typographic)."""


def compile_words(insensitive: Iterable[str], sensitive: Iterable[str] = ()) -> re.Pattern | None:
    """
    One pattern matching any of the words as a whole word (no word character on either side, and not the tail of a
    word after an apostrophe): `insensitive` words in any case, `sensitive` words only as written. `None` when there
    are no words.
    """
    parts = []
    insensitive = sorted(set(insensitive), key=lambda w: (-len(w), w))
    sensitive = sorted(set(sensitive), key=lambda w: (-len(w), w))
    if insensitive:
        parts.append("(?i:" + "|".join(map(re.escape, insensitive)) + ")")
    if sensitive:
        parts.append("|".join(map(re.escape, sensitive)))
    if not parts:
        return None
    return re.compile(rf"(?<!\w)(?<!\w[{APOSTROPHES}])(?:" + "|".join(parts) + r")(?!\w)")


def re2_words(insensitive: Iterable[str], sensitive: Iterable[str] = ()) -> str | None:
    """
    An RE2 pattern matching at least every text [`compile_words`] matches. RE2's `\\b` knows only ASCII word
    characters, so it is put only beside a word's ASCII letters or digits.
    """

    def bounded(word: str) -> str:
        left = r"\b" if _ASCII_WORD.match(word[0]) else ""
        right = r"\b" if _ASCII_WORD.match(word[-1]) else ""
        return left + re.escape(word) + right

    parts = []
    if insensitive := sorted(set(insensitive)):
        parts.append("(?i:" + "|".join(map(bounded, insensitive)) + ")")
    if sensitive := sorted(set(sensitive)):
        parts.append("|".join(map(bounded, sensitive)))
    return "|".join(parts) if parts else None


def text_array(batch: Any) -> pa.Array:
    """The `text` column of a batch (an Arrow table or a dict of lists) as one Arrow string array."""
    column = batch["text"]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if isinstance(column, pa.Array):
        return column
    return pa.array([t if isinstance(t, str) else None for t in column], type=pa.string())


def find_all(pattern: re.Pattern, texts: Sequence[str]) -> list[tuple[int, int, int]]:
    """
    `(text index, start, end)` of every match in `texts`, by one scan over the texts joined with newlines (a
    non-word character, so whole-word boundaries are the same as in each text alone).
    """
    offsets, position = [], 0
    for text in texts:
        offsets.append(position)
        position += len(text) + 1
    found = []
    for match in pattern.finditer("\n".join(texts)):
        index = bisect.bisect_right(offsets, match.start()) - 1
        base = offsets[index]
        found.append((index, match.start() - base, match.end() - base))
    return found


def _take(column: pa.Array, positions: np.ndarray) -> pa.Array:
    return column.take(pa.array(positions, type=pa.int64()))


class WordLocator:
    """
    Whole-word occurrences of `insensitive` (any case) and `sensitive` (as written) words, each word tagged with an
    integer group (e.g. its class) that comes back with every occurrence.

    Args:
        insensitive (`Mapping[str, int]` or `Iterable[str]`): Words matched in any case (a word list means group 0).
        sensitive (`Mapping[str, int]` or `Iterable[str]`): Words matched only as written.
    """

    def __init__(
        self, insensitive: Mapping[str, int] | Iterable[str], sensitive: Mapping[str, int] | Iterable[str] = ()
    ):
        self.insensitive = _groups(insensitive, lower=True)
        self.sensitive = _groups(sensitive, lower=False)
        self.pattern = compile_words(self.insensitive, self.sensitive)
        self.prefilter = re2_words(self.insensitive, self.sensitive)
        # ASCII texts where a word may follow "<word character>'": the Python pattern decides those
        self.tail_filter = None if self.prefilter is None else r"\w'(?:" + self.prefilter + ")"
        # RE2 equals Python `re` on ASCII texts when every word is ASCII word characters only.
        self.vectorised = all(_ASCII_WORD.fullmatch(w) for w in [*self.insensitive, *self.sensitive])
        keys = sorted({(len(w), g) for w, g in [*self.insensitive.items(), *self.sensitive.items()]})
        self.by_length = [
            (n, g, re2_words([w for w, h in self.insensitive.items() if len(w) == n and h == g],
                             [w for w, h in self.sensitive.items() if len(w) == n and h == g]))
            for n, g in keys
        ]

    def __bool__(self) -> bool:
        return self.pattern is not None

    def group_of(self, word: str) -> int:
        """The group of an occurrence as written (an exact sensitive word wins)."""
        group = self.sensitive.get(word)
        return self.insensitive[word.lower()] if group is None else group

    def candidates(self, column: pa.Array) -> np.ndarray:
        """Positions of the texts that may contain a word (every text that does, maybe a few more)."""
        if self.prefilter is None or len(column) == 0:
            return np.zeros(0, dtype=np.int64)
        mask = pc.fill_null(pc.match_substring_regex(column, self.prefilter), False)
        return np.flatnonzero(mask.to_numpy(zero_copy_only=False))

    def contains(self, column: pa.Array) -> np.ndarray:
        """Boolean array: whether each text contains a word."""
        result = np.zeros(len(column), dtype=bool)
        candidates = self.candidates(column)
        if not len(candidates):
            return result
        subset = _take(column, candidates)
        if self.vectorised:
            ascii_mask = self._vectorisable(subset)
            result[candidates[ascii_mask]] = True
            candidates, subset = candidates[~ascii_mask], subset.filter(pa.array(~ascii_mask))
        strings = [s or "" for s in subset.to_pylist()]
        hits = sorted({i for i, _, _ in find_all(self.pattern, strings)})
        result[candidates[hits]] = True
        return result

    def locate(self, column: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """
        Every occurrence in `column` (texts as Arrow), in text order, as arrays `(text index, start, end, group)`.
        """
        empty = np.zeros(0, dtype=np.int64)
        if self.pattern is None or len(column) == 0:
            return empty, empty, empty, empty
        if not self.vectorised:
            return self._python(column, np.arange(len(column)))
        ascii_mask = self._vectorisable(column)
        parts = [self._python(column, np.flatnonzero(~ascii_mask))]
        for length, group, pattern in self.by_length:
            pieces = pc.split_pattern_regex(column, pattern)
            counts = pc.fill_null(pieces.value_lengths(), 0).to_numpy(zero_copy_only=False).astype(np.int64)
            piece_lengths = pc.utf8_length(pieces.flatten()).to_numpy(zero_copy_only=False).astype(np.int64)
            if len(piece_lengths) == np.count_nonzero(counts):  # one piece per text: no occurrence
                continue
            text_of_piece = np.repeat(np.arange(len(counts)), counts)
            first_of_piece = (np.cumsum(counts) - counts)[text_of_piece]
            ordinal = np.arange(len(piece_lengths)) - first_of_piece
            cumulative = np.cumsum(piece_lengths)
            ends_before = cumulative - (cumulative - piece_lengths)[first_of_piece]  # piece text up to its end
            # every piece but a text's last is followed by an occurrence; the other texts were done in Python
            is_match = (ordinal < counts[text_of_piece] - 1) & ascii_mask[text_of_piece]
            start = ends_before[is_match] + ordinal[is_match] * length
            parts.append((text_of_piece[is_match], start, start + length, np.full(len(start), group)))
        index, start, end, groups = (np.concatenate(arrays).astype(np.int64) for arrays in zip(*parts, strict=True))
        order = np.lexsort((start, index))
        return index[order], start[order], end[order], groups[order]

    def _vectorisable(self, column: pa.Array) -> np.ndarray:
        """Boolean array: texts RE2 matches exactly as the Python pattern (ASCII, and no word after "<w>'")."""
        mask = pc.fill_null(pc.string_is_ascii(column), False).to_numpy(zero_copy_only=False)
        if mask.any():
            tails = pc.fill_null(pc.match_substring_regex(column, self.tail_filter), False)
            mask &= ~tails.to_numpy(zero_copy_only=False)
        return mask

    def _python(self, column: pa.Array, positions: np.ndarray) -> tuple[np.ndarray, ...]:
        if not len(positions):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        strings = [s or "" for s in _take(column, positions).to_pylist()]
        found = find_all(self.pattern, strings)
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        index, start, end = (np.asarray(a, dtype=np.int64) for a in zip(*found, strict=True))
        groups = np.array([self.group_of(strings[i][s:e]) for i, s, e in found], dtype=np.int64)
        return positions[index], start, end, groups


def _groups(words: Mapping[str, int] | Iterable[str], lower: bool) -> dict[str, int]:
    items = words.items() if isinstance(words, Mapping) else ((w, 0) for w in words)
    return {(w.lower() if lower else w): int(g) for w, g in items}
