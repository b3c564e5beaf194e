"""NeutralFilter: keeps texts that contain no target word of any class (nor other excluded words or tags)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .filters import TagFilter, WordSpec
from .locator import WordLocator, text_array
from .tagging import TaggedToken, Tagger


class NeutralFilter:
    """
    Decides which texts are feature-neutral: no surface occurrence of any target word (whatever its tags: a German
    "die" of any case excludes a text) or excluded word, no token whose lemma is a lemma target, and no token passing
    one of `excluded_tags`. One compiled pattern checks all words; the tagger runs only on texts still kept.

    Args:
        specs (`Sequence[WordSpec]`): Target words of all classes.
        extra_words (`Sequence[str]`): Further words to exclude (any case).
        excluded_tags (`Sequence[TagFilter]`): Token filters; a text with a token passing any of them is excluded.
        tagger (`Tagger`, *optional*): Needed for lemma targets and `excluded_tags`.
        keep_text (`bool`, *optional*, defaults to `False`): Also output the texts (for streamed corpora).
    """

    def __init__(
        self,
        specs: Sequence[WordSpec],
        extra_words: Sequence[str] = (),
        excluded_tags: Sequence[TagFilter] = (),
        tagger: Tagger | None = None,
        keep_text: bool = False,
    ):
        self.keep_text = keep_text
        surface = [s for s in specs if not s.use_lemma]
        insensitive = [s.word for s in surface if not s.case_sensitive] + list(extra_words)
        sensitive = [s.word for s in surface if s.case_sensitive]
        self.locator = WordLocator(insensitive, sensitive)
        self.lemmas = {s.key for s in specs if s.use_lemma and not s.case_sensitive}
        self.lemmas_sensitive = {s.word for s in specs if s.use_lemma and s.case_sensitive}
        self.excluded_tags = tuple(excluded_tags)
        self.tagger = tagger
        self.needs_tags = bool(self.lemmas or self.lemmas_sensitive or self.excluded_tags)
        if self.needs_tags and tagger is None:
            raise ValueError("NeutralFilter needs a tagger for lemma targets or excluded tags.")

    def describe(self) -> str:
        """A string that changes whenever the filter would decide differently (for dataset fingerprints)."""
        pattern = self.locator.pattern.pattern if self.locator else None
        tags = [str(t) for t in self.excluded_tags]
        return repr((pattern, sorted(self.lemmas), sorted(self.lemmas_sensitive), tags, self.keep_text))

    def keep(self, texts: Sequence[str] | pa.Array) -> np.ndarray:
        """Whether each text is neutral (a boolean array)."""
        column = text_array({"text": texts})
        keep = pc_is_text(column) & ~self.locator.contains(column)
        if self.needs_tags:
            kept = np.flatnonzero(keep)
            if len(kept):
                strings = column.take(pa.array(kept, type=pa.int64())).to_pylist()
                for index, tokens in zip(kept, self.tagger(strings), strict=True):
                    keep[index] = not any(self._excluded(TaggedToken.coerce(t)) for t in tokens)
        return keep

    def _excluded(self, token: TaggedToken) -> bool:
        if token.lemma.lower() in self.lemmas or token.lemma in self.lemmas_sensitive:
            return True
        return any(f.accepts(token) for f in self.excluded_tags)

    def __call__(self, batch: Any, indices: list[int]) -> pa.Table:
        """Batched `datasets.map` function: the row indices of the neutral texts (and, with `keep_text`, the texts)."""
        column = text_array(batch)
        keep = self.keep(column)
        out = {"row": pa.array(np.asarray(indices, dtype=np.int64)[keep])}
        if self.keep_text:
            out["text"] = column.filter(pa.array(keep))
        return pa.table(out)


def pc_is_text(column: pa.Array) -> np.ndarray:
    """True for non-null, non-empty texts."""
    import pyarrow.compute as pc

    lengths = pc.fill_null(pc.utf8_length(column), 0)
    return (lengths.to_numpy(zero_copy_only=False) > 0).copy()
