"""NeutralFilter: keeps texts that contain no target word of any class (nor other excluded words or tags)."""

from __future__ import annotations

from collections.abc import Sequence

from .filters import TagFilter, WordSpec
from .matcher import compile_words, find_all
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
    """

    def __init__(
        self,
        specs: Sequence[WordSpec],
        extra_words: Sequence[str] = (),
        excluded_tags: Sequence[TagFilter] = (),
        tagger: Tagger | None = None,
    ):
        surface = [s for s in specs if not s.use_lemma]
        self.pattern = compile_words(
            [s.word for s in surface if not s.case_sensitive] + list(extra_words),
            [s.word for s in surface if s.case_sensitive],
        )
        self.lemmas = {s.key for s in specs if s.use_lemma and not s.case_sensitive}
        self.lemmas_sensitive = {s.word for s in specs if s.use_lemma and s.case_sensitive}
        self.excluded_tags = tuple(excluded_tags)
        self.tagger = tagger
        self.needs_tags = bool(self.lemmas or self.lemmas_sensitive or self.excluded_tags)
        if self.needs_tags and tagger is None:
            raise ValueError("NeutralFilter needs a tagger for lemma targets or excluded tags.")

    def describe(self) -> str:
        """A string that changes whenever the filter would decide differently (for dataset fingerprints)."""
        pattern = self.pattern.pattern if self.pattern is not None else None
        tags = [str(t) for t in self.excluded_tags]
        return repr((pattern, sorted(self.lemmas), sorted(self.lemmas_sensitive), tags))

    def keep(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is neutral."""
        keep = [bool(t) for t in texts]
        if self.pattern is not None:
            for index, _, _ in find_all(self.pattern, texts):
                keep[index] = False
        if self.needs_tags:
            kept = [i for i, k in enumerate(keep) if k]
            if kept:
                for index, tokens in zip(kept, self.tagger([texts[i] for i in kept]), strict=True):
                    keep[index] = not any(self._excluded(TaggedToken.coerce(t)) for t in tokens)
        return keep

    def _excluded(self, token: TaggedToken) -> bool:
        if token.lemma.lower() in self.lemmas or token.lemma in self.lemmas_sensitive:
            return True
        return any(f.accepts(token) for f in self.excluded_tags)

    def __call__(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        """Batched `datasets.map` function: the neutral texts of the batch and their row indices."""
        texts = [t if isinstance(t, str) else "" for t in batch["text"]]
        keep = self.keep(texts)
        return {
            "text": [t for t, k in zip(texts, keep, strict=True) if k],
            "row": [i for i, k in zip(indices, keep, strict=True) if k],
        }
