"""TargetMatcher: every target word of every class found in one pass of one compiled pattern."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .filters import WordSpec
from .tagging import TaggedToken, Tagger

MATCH_COLUMNS = ("text", "masked", "factual", "word", "factual_class", "row", "start")
"""Columns of the intermediate table of matched occurrences (one row per occurrence)."""


def compile_words(insensitive: Iterable[str], sensitive: Iterable[str] = ()) -> re.Pattern | None:
    """
    One pattern matching any of the words as a whole word (no word character on either side): `insensitive` words
    in any case, `sensitive` words only as written. `None` when there are no words.
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
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def find_all(pattern: re.Pattern, texts: Sequence[str]) -> list[tuple[int, int, int]]:
    """
    `(text index, start, end)` of every match in `texts`, found by one scan over the texts joined with newlines (a
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
        placeholder (`str`, *optional*, defaults to `"[MASK]"`): Replaces the occurrence in `masked`.
        min_left_context_words (`int`, *optional*, defaults to 0): Words required before an occurrence (per-class
            overrides in the specs win).
    """

    def __init__(
        self,
        specs: Sequence[WordSpec],
        tagger: Tagger | None = None,
        placeholder: str = "[MASK]",
        min_left_context_words: int = 0,
    ):
        self.placeholder = placeholder
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
        self.pattern = compile_words(self.insensitive, self.sensitive)
        self.tag_everything = bool(self.lemmas or self.lemmas_sensitive)
        if tagger is None and (self.tag_everything or any(s.tags for s in specs)):
            raise ValueError("TargetMatcher needs a tagger for specs with tags or lemmas.")

    def describe(self) -> str:
        """A string that changes whenever the matcher would match differently (for dataset fingerprints)."""
        return repr((
            sorted((k, [repr(s) for s in v]) for k, v in self.insensitive.items()),
            sorted((k, [repr(s) for s in v]) for k, v in self.sensitive.items()),
            sorted((k, [repr(s) for s in v]) for k, v in self.lemmas.items()),
            sorted((k, [repr(s) for s in v]) for k, v in self.lemmas_sensitive.items()),
            self.placeholder, self.min_left_context_words,
        ))

    def candidates(self, match: str) -> list[WordSpec]:
        return self.insensitive.get(match.lower(), []) + self.sensitive.get(match, [])

    def occurrences(self, texts: Sequence[str]) -> list[list[tuple[int, int, WordSpec]]]:
        """Per text, its accepted occurrences `(start, end, spec)` in text order."""
        found: list[dict[tuple[int, int], list[WordSpec]]] = [{} for _ in texts]
        needs_tags: dict[int, list[tuple[int, int, list[WordSpec]]]] = {}
        if self.pattern is not None:
            for index, start, end in find_all(self.pattern, texts):
                specs = self.candidates(texts[index][start:end])
                plain = [s for s in specs if s.tags is None]
                tagged = [s for s in specs if s.tags is not None]
                if plain:
                    found[index].setdefault((start, end), []).extend(plain)
                if tagged:
                    needs_tags.setdefault(index, []).append((start, end, tagged))
        to_tag = range(len(texts)) if self.tag_everything else sorted(needs_tags)
        if to_tag:
            tokens = self.tagger([texts[i] for i in to_tag])
            if len(tokens) != len(to_tag):
                raise ValueError(f"The tagger returned {len(tokens)} token lists for {len(to_tag)} texts.")
            for index, text_tokens in zip(to_tag, tokens, strict=True):
                self._tagged_occurrences(
                    [TaggedToken.coerce(t) for t in text_tokens], needs_tags.get(index, ()), found[index]
                )
        result = []
        for spans in found:
            accepted = []
            for (start, end), specs in sorted(spans.items()):
                if len({s.class_id for s in specs}) == 1:  # a span two classes claim is ambiguous
                    accepted.append((start, end, specs[0]))
            result.append(accepted)
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

    def __call__(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        """Batched `datasets.map` function: texts (column `text`) in, one row per accepted occurrence out."""
        texts = [t if isinstance(t, str) else "" for t in batch["text"]]
        out: dict[str, list[Any]] = {c: [] for c in MATCH_COLUMNS}
        for index, occurrences in enumerate(self.occurrences(texts)):
            text = texts[index]
            for start, end, spec in occurrences:
                needed = spec.min_left_context_words
                needed = self.min_left_context_words if needed is None else needed
                if needed and words_before(text, start) < needed:
                    continue
                factual = text[start:end]
                out["text"].append(text)
                out["masked"].append(text[:start] + self.placeholder + text[end:])
                out["factual"].append(factual)
                out["word"].append(factual if spec.case_sensitive else factual.lower())
                out["factual_class"].append(spec.class_id)
                out["row"].append(indices[index])
                out["start"].append(start)
        return out
