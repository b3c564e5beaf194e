"""TextFilterConfig: the words of one feature class, and how an occurrence of them is recognised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOKEN_FIELDS = ("pos", "tag", "dep", "lemma")
"""Token attributes a tag filter can name directly; every other key names a morphological feature."""


@dataclass(frozen=True)
class TagFilter:
    """
    A normalised spaCy-style attribute filter: a token passes when, for every `(attribute, allowed)` pair, its
    attribute (one of `TOKEN_FIELDS`, or a morphological feature such as `"Case"`) has one of the allowed values.
    """

    conditions: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def parse(cls, spec: Any, owner: str = "spacy_tags") -> TagFilter:
        """
        Parse `{"pos": "PRON", "Case": "Nom"}`, `{"morph": "Case=Nom|Gender=Fem"}` or the shorthand
        `"Case=Nom|Gender=Fem"`. Values may be a string or a list of allowed strings.
        """
        if isinstance(spec, TagFilter):
            return spec
        if isinstance(spec, str):
            spec = {"morph": spec}
        if not isinstance(spec, Mapping) or not spec:
            raise TypeError(
                f"{owner}={spec!r} must be a non-empty mapping such as {{'pos': 'PRON', 'Case': 'Nom'}} or a morph "
                "string such as 'Case=Nom|Gender=Fem'."
            )
        conditions: dict[str, frozenset[str]] = {}
        for key, value in spec.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"{owner} has the key {key!r}; keys are attribute or feature names (strings).")
            if key == "morph":
                for name, allowed in _parse_morph(value, owner).items():
                    conditions[name] = allowed
                continue
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, Sequence) or not values or not all(isinstance(v, str) for v in values):
                raise TypeError(f"{owner}[{key!r}]={value!r} must be a string or a non-empty list of strings.")
            conditions[key.lower() if key.lower() in TOKEN_FIELDS else key] = frozenset(values)
        return cls(tuple(sorted(conditions.items())))

    def accepts(self, token: Any) -> bool:
        """Whether a [`TaggedToken`] satisfies every condition."""
        for name, allowed in self.conditions:
            value = getattr(token, name) if name in TOKEN_FIELDS else token.morph.get(name)
            if value not in allowed:
                return False
        return True

    def __str__(self) -> str:
        return ", ".join(f"{k}∈{sorted(v)}" for k, v in self.conditions)


def _parse_morph(value: Any, owner: str) -> dict[str, frozenset[str]]:
    if not isinstance(value, str) or "=" not in value:
        raise TypeError(f"{owner}['morph']={value!r} must be a string of features such as 'Case=Nom|Gender=Fem'.")
    features = {}
    for part in value.split("|"):
        name, sep, feature_value = part.partition("=")
        if not sep or not name or not feature_value:
            raise ValueError(f"{owner}['morph'] has the malformed feature {part!r}; write it as 'Feature=Value'.")
        features[name] = frozenset([feature_value])
    return features


@dataclass(frozen=True)
class WordSpec:
    """One target word of a class with the rules that recognise it (resolved from nested configs)."""

    word: str
    """The word as written in the config."""
    class_id: str
    tags: TagFilter | None
    use_lemma: bool
    case_sensitive: bool
    min_left_context_words: int | None

    @property
    def key(self) -> str:
        """Lookup key: the word itself when case-sensitive, lower-cased otherwise."""
        return self.word if self.case_sensitive else self.word.lower()

    @property
    def needs_tagger(self) -> bool:
        return self.use_lemma or self.tags is not None


@dataclass
class TextFilterConfig:
    r"""
    The target words of one feature class (e.g. `3SG` = he, she, it) and how an occurrence is recognised.

    Words are matched as whole words; unless `case_sensitive`, every case variant matches ("He", "HE") and the
    alternative written into a row follows the occurrence's case ("He" → "They"). Optional attribute filters
    (`spacy_tags`) keep only occurrences whose token has the given part of speech or morphological features, which
    separates syncretic forms such as German "die" (`Case=Nom|Gender=Fem` vs. `Number=Plur`); `use_lemma` matches
    every inflected form whose lemma is a target. Both need a tagger (a spaCy pipeline or a callable, see
    [`TextPredictionDataCreator`]).

    Args:
        targets (`str` or `list[str | TextFilterConfig]`):
            The class's words. A nested `TextFilterConfig` contributes its own targets with its own `spacy_tags`,
            `use_lemma`, `case_sensitive` and `min_left_context_words`; settings it leaves unset are inherited.
        id (`str`, *optional*):
            The class name written into `factual_class`/`alternative_class`; the first target by default.
        spacy_tags (`dict` or `str`, *optional*):
            Token attribute filter: keys `pos`, `tag`, `dep`, `lemma`, `morph` (a `"Feat=Val|Feat=Val"` string) or
            any morphological feature name (`"Case"`, `"Gender"`, ...); values a string or a list of allowed
            strings. A string is read as a `morph` value.
        use_lemma (`bool`, *optional*, defaults to `False`):
            Match tokens whose lemma is a target ("be" matches "is", "was").
        case_sensitive (`bool`, *optional*, defaults to `False`):
            Match the targets only as written (e.g. German "Sie" but not "sie").
        min_left_context_words (`int`, *optional*):
            Per-class override of the creator's minimum number of words before an occurrence.

    Example:

    ```python
    >>> from hf_gradiend import TextFilterConfig
    >>> singular = TextFilterConfig(["he", "she", "it"], id="3SG")
    >>> nominative = TextFilterConfig(["she", "he"], id="nom", spacy_tags={"pos": "PRON", "Case": "Nom"})
    >>> der = TextFilterConfig([TextFilterConfig("der", spacy_tags="Case=Nom|Gender=Masc")], id="masc_nom")
    ```
    """

    targets: str | Sequence[str | TextFilterConfig]
    id: str | None = None
    spacy_tags: Mapping[str, Any] | str | None = None
    use_lemma: bool | None = None
    case_sensitive: bool | None = None
    min_left_context_words: int | None = None
    _specs: tuple[WordSpec, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.targets, str | TextFilterConfig):
            self.targets = [self.targets]
        if not isinstance(self.targets, Sequence) or not self.targets:
            raise ValueError(
                f"TextFilterConfig needs at least one target word, got targets={self.targets!r}; "
                "e.g. TextFilterConfig(['he', 'she'], id='3SG')."
            )
        if self.id is None:
            first = self.targets[0]
            self.id = first if isinstance(first, str) else first.id
        if not isinstance(self.id, str) or not self.id:
            raise TypeError(f"TextFilterConfig id={self.id!r} must be a non-empty string (the class name).")
        if self.min_left_context_words is not None and self.min_left_context_words < 0:
            raise ValueError(f"min_left_context_words={self.min_left_context_words} must be 0 or more.")
        tags = TagFilter.parse(self.spacy_tags, f"spacy_tags of class {self.id!r}") if self.spacy_tags else None
        self._specs = tuple(self._resolve(self.id, tags, self.use_lemma, self.case_sensitive,
                                          self.min_left_context_words))

    def _resolve(self, class_id, tags, use_lemma, case_sensitive, min_left) -> list[WordSpec]:
        specs = []
        for target in self.targets:
            if isinstance(target, TextFilterConfig):
                specs += target._resolve(
                    class_id,
                    TagFilter.parse(target.spacy_tags, f"spacy_tags of a nested config of {class_id!r}")
                    if target.spacy_tags else tags,
                    target.use_lemma if target.use_lemma is not None else use_lemma,
                    target.case_sensitive if target.case_sensitive is not None else case_sensitive,
                    target.min_left_context_words if target.min_left_context_words is not None else min_left,
                )
            elif isinstance(target, str) and target.strip() == target and target and " " not in target:
                specs.append(WordSpec(target, class_id, tags, bool(use_lemma), bool(case_sensitive), min_left))
            else:
                raise ValueError(
                    f"Class {class_id!r} has the target {target!r}; targets are single words without spaces "
                    "(or nested TextFilterConfig objects)."
                )
        return specs

    @property
    def word_specs(self) -> tuple[WordSpec, ...]:
        """Every target word of the class with its resolved rules."""
        return self._specs

    @property
    def words(self) -> list[str]:
        """The class's target words as written."""
        return [s.word for s in self._specs]

    @property
    def needs_tagger(self) -> bool:
        """Whether recognising this class needs token attributes (tags or lemmas)."""
        return any(s.needs_tagger for s in self._specs)


def check_classes(configs: Sequence[TextFilterConfig]) -> None:
    """
    Errors for unusable class definitions: no configs, a non-config entry, a repeated class id, or the same word in
    two classes where no tag filter tells the two apart.
    """
    if not configs:
        raise ValueError(
            "feature_targets is empty; pass TextFilterConfig objects, e.g. "
            "[TextFilterConfig(['he', 'she', 'it'], id='3SG'), TextFilterConfig(['they'], id='3PL')]."
        )
    seen_ids: set[str] = set()
    for config in configs:
        if not isinstance(config, TextFilterConfig):
            raise TypeError(f"feature_targets holds {config!r}; every entry must be a TextFilterConfig.")
        if config.id in seen_ids:
            raise ValueError(f"Two feature_targets share the id {config.id!r}; give every class its own id.")
        seen_ids.add(config.id)
    by_word: dict[str, list[WordSpec]] = {}
    for config in configs:
        for spec in config.word_specs:
            by_word.setdefault(spec.word.lower(), []).append(spec)
    for specs in by_word.values():
        for i, first in enumerate(specs):
            for second in specs[i + 1:]:
                if first.class_id != second.class_id and not _distinguishable(first, second):
                    raise ValueError(
                        f"The target word {second.word!r} is in class {first.class_id!r} and in class "
                        f"{second.class_id!r}; an occurrence must belong to one class. Remove it from one class, or "
                        "give both classes different spacy_tags (e.g. German 'die': {'Case': 'Nom', 'Gender': "
                        "'Fem'} vs {'Number': 'Plur'})."
                    )


def _distinguishable(a: WordSpec, b: WordSpec) -> bool:
    if a.case_sensitive and b.case_sensitive and a.word != b.word:
        return True
    return a.tags is not None and b.tags is not None and a.tags != b.tags
