"""TargetMatcher: every target word of every class found in one pass of one compiled pattern."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .filters import WordSpec
from .locator import WordLocator, text_array
from .tagging import TaggedToken, Tagger

MATCH_COLUMNS = ("row", "start", "end", "class")
"""Columns of the intermediate table of matched occurrences (one row per occurrence; plus `text` when kept)."""


def words_before(text: str, start: int) -> int:
    """Number of whitespace-separated words before character `start`."""
    return len(text[:start].split())


class TargetMatcher:
    """
    Finds every occurrence of the classes' target words and turns each into one masked row.

    Surface words are found by one compiled pattern over a whole batch. Occurrences of words with tag filters are
    kept only when the tagger's token at that exact span passes the filter; lemma targets are found on the tagger's
    tokens. Only texts with a candidate (or, when a class matches lemmas, every text) are tagged. A span claimed by
    two classes is ambiguous and skipped.

    Args:
        specs (`Sequence[WordSpec]`): Target words of all classes.
        tagger (`Tagger`, *optional*): Needed when a spec has tags or matches lemmas.
        min_left_context_words (`int`, *optional*, defaults to 0): Words required before an occurrence (per-class
            overrides in the specs win).
        keep_text (`bool`, *optional*, defaults to `False`): Also output each occurrence's text (for streamed corpora,
            whose texts cannot be fetched again by row).
    """

    def __init__(
        self,
        specs: Sequence[WordSpec],
        tagger: Tagger | None = None,
        min_left_context_words: int = 0,
        keep_text: bool = False,
    ):
        self.keep_text = keep_text
        self.specs = tuple(specs)
        self.min_left_context_words = min_left_context_words
        self.tagger = tagger
        self.insensitive: dict[str, list[WordSpec]] = {}
        self.sensitive: dict[str, list[WordSpec]] = {}
        self.lemmas: dict[str, list[WordSpec]] = {}
        self.lemmas_sensitive: dict[str, list[WordSpec]] = {}
        for spec in specs:
            if spec.use_lemma:
                table = self.lemmas_sensitive if spec.case_sensitive else self.lemmas
            else:
                table = self.sensitive if spec.case_sensitive else self.insensitive
            table.setdefault(spec.key, []).append(spec)
        self.class_ids = list(dict.fromkeys(s.class_id for s in specs))
        self.tag_everything = bool(self.lemmas or self.lemmas_sensitive)
        # The common case (no tags, no lemmas, every word of one class): the class comes from the locator, and an
        # occurrence never enters Python unless its text is non-ASCII.
        code = {c: i for i, c in enumerate(self.class_ids)}
        self.simple = not self.tag_everything and all(
            len({s.class_id for s in v}) == 1 and all(s.tags is None for s in v)
            for v in [*self.insensitive.values(), *self.sensitive.values()]
        ) and not any(w.lower() in self.insensitive for w in self.sensitive)
        if self.simple:
            self.locator = WordLocator(
                {k: code[v[0].class_id] for k, v in self.insensitive.items()},
                {k: code[v[0].class_id] for k, v in self.sensitive.items()},
            )
        else:
            self.locator = WordLocator(list(self.insensitive), list(self.sensitive))
        if tagger is None and (self.tag_everything or any(s.tags for s in specs)):
            raise ValueError("TargetMatcher needs a tagger for specs with tags or lemmas.")

    def describe(self) -> str:
        """A string that changes whenever the matcher would match differently (for dataset fingerprints)."""
        return repr((
            sorted((k, [repr(s) for s in v]) for k, v in self.insensitive.items()),
            sorted((k, [repr(s) for s in v]) for k, v in self.sensitive.items()),
            sorted((k, [repr(s) for s in v]) for k, v in self.lemmas.items()),
            sorted((k, [repr(s) for s in v]) for k, v in self.lemmas_sensitive.items()),
            self.min_left_context_words, self.keep_text,
        ))

    def candidates(self, match: str) -> list[WordSpec]:
        return self.insensitive.get(match.lower(), []) + self.sensitive.get(match, [])

    def lookup_form(self, factual: str) -> str:
        """The form of an occurrence used to look up its word: as written for case-sensitive words, else lower."""
        return factual if factual in self.sensitive or factual in self.lemmas_sensitive else factual.lower()

    def occurrences(
        self, texts: Sequence[str], column: pa.Array | None = None
    ) -> list[tuple[int, int, int, WordSpec]]:
        """
        Accepted occurrences `(text index, start, end, spec)` in `texts` (also given as Arrow), in text order; the
        general path, with tag filters and lemmas.
        """
        column = text_array({"text": texts}) if column is None else column
        found: list[dict[tuple[int, int], list[WordSpec]]] = [{} for _ in texts]
        needs_tags: dict[int, list[tuple[int, int, list[WordSpec]]]] = {}
        index, start, end, _ = self.locator.locate(column)
        for i, s, e in zip(index.tolist(), start.tolist(), end.tolist(), strict=True):
            specs = self.candidates(texts[i][s:e])
            plain = [spec for spec in specs if spec.tags is None]
            tagged = [spec for spec in specs if spec.tags is not None]
            if plain:
                found[i].setdefault((s, e), []).extend(plain)
            if tagged:
                needs_tags.setdefault(i, []).append((s, e, tagged))
        to_tag = range(len(texts)) if self.tag_everything else sorted(needs_tags)
        if to_tag:
            tokens = self.tagger([texts[i] for i in to_tag])
            if len(tokens) != len(to_tag):
                raise ValueError(f"The tagger returned {len(tokens)} token lists for {len(to_tag)} texts.")
            for i, text_tokens in zip(to_tag, tokens, strict=True):
                self._tagged_occurrences([TaggedToken.coerce(t) for t in text_tokens], needs_tags.get(i, ()), found[i])
        result = []
        for i, spans in enumerate(found):
            for (s, e), specs in sorted(spans.items()):
                if len({spec.class_id for spec in specs}) == 1:  # a span two classes claim is ambiguous
                    result.append((i, s, e, specs[0]))
        return result

    def _tagged_occurrences(self, tokens, candidates, found) -> None:
        by_start = {t.start: t for t in tokens}
        for start, end, specs in candidates:
            token = by_start.get(start)
            if token is None or token.end != end:
                continue  # the tagger split the text differently: the attributes cannot be checked
            accepted = [s for s in specs if s.tags.accepts(token)]
            if accepted:
                found.setdefault((start, end), []).extend(accepted)
        if self.tag_everything:
            for token in tokens:
                specs = self.lemmas.get(token.lemma.lower(), []) + self.lemmas_sensitive.get(token.lemma, [])
                accepted = [s for s in specs if s.tags is None or s.tags.accepts(token)]
                if accepted:
                    found.setdefault((token.start, token.end), []).extend(accepted)

    def __call__(self, batch: Any, indices: list[int]) -> dict[str, Any]:
        """
        Batched `datasets.map` function: texts (column `text`, Arrow or Python) in, one row per accepted occurrence
        out: `row` (the text's index), `start`/`end` (its character span), `class` (index into `class_ids`) and,
        with `keep_text`, `text`. Texts that cannot contain a target never leave Arrow.
        """
        column = text_array(batch)
        if self.tag_everything:
            positions = np.arange(len(column))
        else:
            positions = self.locator.candidates(column)
            column = column.take(pa.array(positions, type=pa.int64()))
        texts = None
        if self.simple:
            index, start, end, classes = self.locator.locate(column)
        else:
            texts = [t or "" for t in column.to_pylist()]
            found = self.occurrences(texts, column)
            code = {c: i for i, c in enumerate(self.class_ids)}
            index, start, end = (np.array([o[k] for o in found], dtype=np.int64) for k in range(3))
            classes = np.array([code[o[3].class_id] for o in found], dtype=np.int64)
        if self.min_left_context_words or any(s.min_left_context_words for s in self.specs) or self.keep_text:
            texts = texts if texts is not None else [t or "" for t in column.to_pylist()]
        if self.min_left_context_words or any(s.min_left_context_words for s in self.specs):
            keep = np.array([
                words_before(texts[i], s) >= self._min_left(texts[i][s:e], self.class_ids[c])
                for i, s, e, c in zip(index.tolist(), start.tolist(), end.tolist(), classes.tolist(), strict=True)
            ], dtype=bool)
            index, start, end, classes = index[keep], start[keep], end[keep], classes[keep]
        out = {
            "row": np.asarray(indices, dtype=np.int64)[positions[index]],
            "start": start, "end": end, "class": classes,
        }
        if self.keep_text:
            out["text"] = [texts[i] for i in index.tolist()]
        return out

    def _min_left(self, factual: str, class_id: str) -> int:
        specs = [s for s in self.candidates(factual) if s.class_id == class_id]
        if not specs:  # a lemma match: the class's lemma specs
            specs = [s for s in self.specs if s.class_id == class_id and s.use_lemma]
        own = [s.min_left_context_words for s in specs if s.min_left_context_words is not None]
        return max(own) if own else self.min_left_context_words
