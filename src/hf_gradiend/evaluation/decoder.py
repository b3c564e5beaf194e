"""Decoder evaluation: score the base model rewritten as θ + α·dec(h) over a grid of (α, h), and choose per class.

The entry point [`evaluate_decoder_grid`] prepares the rows, the neutral texts and the two scorers, runs the search
([`run_grid`], which edits the weights in place and restores them) and chooses one point per requested selection with
the policy ([`select`]). Each point is scored with the language-modelling score ([`LanguageModelingScorer`]) on
neutral text and the probability of each class's words at the placeholder ([`TargetProbabilityScorer`]) on the
split's masked texts. The grid options are one [`DecoderGridConfig`].
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..gradients.objectives import DEFAULT_PLACEHOLDER, TextObjective, build_objective, infer_objective_name
from ..modeling_gradiend import GradiendModel
from .grid_config import DecoderGridConfig, check_config, grid_config
from .grid_search import Scorer, run_grid
from .lms import LanguageModelingScorer, default_max_length
from .policies import SelectionPolicy, SelectionTarget
from .probabilities import TargetProbabilityScorer
from .records import GridPoint
from .texts import all_words, class_words, drop_texts_with_words

DEFAULT_GRID_BATCH_SIZE = 16
"""Texts per forward pass of [`evaluate_decoder_grid`] when the config leaves `batch_size` unset."""


def select(
    base: GridPoint, points: Sequence[GridPoint], target: SelectionTarget, policy: SelectionPolicy
) -> dict[str, Any]:
    """
    The chosen point for `target` as a result entry.

    Returns:
        `dict` with `learning_rate` (α), `feature_value` (h), `lms`, `base_lms`, `target_probability` and
        `base_target_probability` (the target class's words on the measured texts), `other_probability` and
        `base_other_probability` (the other class's words on the same texts), `gain`, `score`, `fallback`,
        `target_class`, `increase`, `measured_on` (class of the measured texts) and `policy`.
    """
    evaluated = [p for p in points if p.status == "evaluated"]
    if not evaluated:
        reasons = sorted({p.reason for p in points})
        raise ValueError(
            f"No grid point could be scored for {target.key!r} (reasons: {reasons}). Use smaller learning_rates."
        )
    chosen = policy.select(evaluated, base, target)
    point = chosen.point
    return {
        "learning_rate": point.learning_rate,
        "feature_value": point.feature_value,
        "lms": point.lms,
        "base_lms": base.lms,
        "target_probability": target.probability(point),
        "base_target_probability": target.probability(base),
        "other_probability": target.other_probability(point),
        "base_other_probability": target.other_probability(base),
        "gain": target.gain(point, base),
        "score": chosen.score,
        "fallback": chosen.fallback,
        "target_class": target.target_class,
        "increase": target.increase,
        "measured_on": target.rows_class,
        "policy": policy.name,
    }


def selection_targets(
    feature_classes: Sequence[str], target_class: str | None, increase: bool | None
) -> list[SelectionTarget]:
    """
    The selections requested: one class or both, strengthened (`increase=True`), weakened (`False`) or both
    (`None`).
    """
    if target_class is not None and target_class not in feature_classes:
        raise ValueError(
            f"target_class={target_class!r} is not one of the direction's classes {list(feature_classes)}; pass one "
            "of them (or None for both)."
        )
    if increase is not None and not isinstance(increase, bool):
        raise TypeError(f"increase must be True, False or None, not {increase!r}.")
    classes = [target_class] if target_class is not None else list(feature_classes)
    directions = [increase] if increase is not None else [True, False]
    a, b = feature_classes
    return [SelectionTarget(c, b if c == a else a, d) for c in classes for d in directions]


def evaluate_decoder_grid(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    direction: GradiendModel,
    rows: Any,
    neutral_texts: Sequence[str] | None = None,
    target_class: str | None = None,
    increase: bool | None = True,
    config: DecoderGridConfig | None = None,
    *,
    feature_classes: Sequence[str] | None = None,
    words: Mapping[str, Sequence[str]] | None = None,
    objective: str | TextObjective | None = None,
    placeholder: str = DEFAULT_PLACEHOLDER,
    show_progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    r"""
    Evaluate a direction's decoder as a weight rewrite over a grid of learning rates α and feature values h, and
    choose one point per requested class.

    Every point writes `θ + α·dec(h)` into the selected weights in place (from saved copies of the originals) and
    scores the model; the original tensors are copied back at the end. Scores per point:

    - **target probabilities**: the mean probability of each class's words at the placeholder of the masked texts
      of `rows`, per class of text (see [`TargetProbabilityScorer`]). Strengthening class C is measured on texts of
      the other class; weakening C on texts of C. Only the texts a requested selection is measured on are scored.
    - **LMS**: the language-modelling score on `neutral_texts` (see [`LanguageModelingScorer`]): top-1 accuracy on
      15 % seeded random masked non-special, non-target tokens for a masked LM; next-token top-1 accuracy on
      non-target tokens for a causal LM.

    Args:
        model (`PreTrainedModel`): The base model (edited in place during the grid, restored afterwards).
        tokenizer (`PreTrainedTokenizerBase`): Its fast tokenizer.
        direction ([`GradiendModel`]): A direction learned on `model`'s parameters.
        rows (`datasets.Dataset` or list of dicts): Masked rows (`masked`, `factual`, `alternative`,
            `factual_class`, `alternative_class`) of the two classes.
        neutral_texts (`list[str]`, *optional*): Texts for the LMS. Texts containing a target word are dropped with
            a warning. When omitted, the rows' texts with the factual word filled in are used (with a warning).
        target_class (`str`, *optional*): The class to select for; both classes when omitted.
        increase (`bool`, *optional*, defaults to `True`): Strengthen (`True`), weaken (`False`) or both (`None`).
        config ([`DecoderGridConfig`], *optional*): The grid options (α and h values, policy, early stopping, LMS
            mask ratio, case variants, `max_size`, `batch_size` — 16 when unset — and `seed`); the defaults when
            omitted.
        feature_classes (`list[str]`, *optional*): The two classes, +1 first; from the direction's config by default.
        words (`dict[str, list[str]]`, *optional*): Each class's words; collected from `rows` by default.
        objective (`str` or `TextObjective`, *optional*): `"masked_lm"`/`"causal_lm"` or an objective instance;
            from the direction's config or the model by default.
        placeholder (`str`, *optional*, defaults to `"[MASK]"`): The target word's marker in masked texts.
        show_progress (`bool`, *optional*, defaults to `True`): Show a progress bar over grid points.
        **overrides: Any [`DecoderGridConfig`] field by name (`learning_rates=...`, `policy=...`, `seed=...`),
            applied on top of `config`; `policy` may also be a [`SelectionPolicy`] instance.

    Returns:
        `dict` with one entry per selection — key `"<class>"` when strengthening, `"<class>_weaken"` when weakening —
        each as described in [`select`]; `"grid"`: every grid point as a dict (evaluated and skipped ones, with
        `status` and `reason`); `"base"`: the unmodified model's scores; `"settings"`: the policy, the grid, the
        class words and the neutral texts used (`neutral_source`, `neutral_texts`, `neutral_dropped`).

    Example:

    ```python
    >>> from hf_gradiend.evaluation import DecoderGridConfig, evaluate_decoder_grid
    >>> results = evaluate_decoder_grid(model, tokenizer, direction, test_rows, neutral_texts, target_class="3PL")
    >>> results["3PL"]["learning_rate"], results["3PL"]["feature_value"], results["3PL"]["lms"]
    >>> config = DecoderGridConfig(learning_rates=[0.01, 0.1, 1.0], early_stop=False)
    >>> results = evaluate_decoder_grid(model, tokenizer, direction, test_rows, neutral_texts, config=config)
    ```
    """
    from ..rows import as_dataset

    config = grid_config(config, **overrides)
    rows = as_dataset(rows)
    feature_classes = direction_classes(direction, feature_classes)
    targets = selection_targets(feature_classes, target_class, increase)
    batch_size = DEFAULT_GRID_BATCH_SIZE if config.batch_size is None else config.batch_size
    learning_rates, feature_values, policy = check_config(config, batch_size)
    rows = sample_rows(rows, feature_classes, config.max_size, config.seed)
    words = dict(words) if words is not None else class_words(rows, feature_classes)
    objective = resolve_objective(objective, direction, model, tokenizer, placeholder)
    texts, source, dropped = lms_texts(neutral_texts, rows, words, objective.placeholder)
    if config.max_size is not None and len(texts) > config.max_size:
        texts = random.Random(config.seed).sample(texts, config.max_size)
    score, scored = grid_scorer(model, tokenizer, objective, texts, rows, words, targets, config, batch_size)

    was_training = model.training
    model.eval()
    try:
        base, points = run_grid(
            model, direction, score, learning_rates, feature_values, policy, targets, config.early_stop, show_progress
        )
    finally:
        model.train(was_training)
    results: dict[str, Any] = {t.key: select(base, points, t, policy) for t in targets}
    results["grid"] = [p.to_dict() for p in points]
    results["base"] = base.to_dict()
    results["settings"] = {
        "policy": policy.describe(),
        "learning_rates": learning_rates,
        "feature_values": feature_values,
        "early_stop": config.early_stop,
        "feature_classes": feature_classes,
        "words": words,
        "rows": len(rows),
        "scored_rows": len(scored),
        "neutral_source": source,
        "neutral_texts": len(texts),
        "neutral_dropped": dropped,
        "objective": objective.name,
    }
    return results


def direction_classes(direction: GradiendModel, feature_classes: Sequence[str] | None) -> list[str]:
    """The two feature classes (+1 first): the given ones, else the direction's; an error unless there are two."""
    feature_classes = list(feature_classes or direction.config.feature_classes or [])
    if len(feature_classes) != 2:
        raise ValueError(
            f"feature_classes={feature_classes!r}: the decoder evaluation needs the direction's two classes; pass "
            "feature_classes=[positive, negative]."
        )
    return feature_classes


def resolve_objective(
    objective: str | TextObjective | None,
    direction: GradiendModel,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    placeholder: str,
) -> TextObjective:
    """An objective instance: the given one, else built from its name, the direction's or the model's kind."""
    if isinstance(objective, TextObjective):
        return objective
    name = objective or direction.config.objective or infer_objective_name(model)
    return build_objective(name, tokenizer, placeholder)


def grid_scorer(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    objective: TextObjective,
    texts: Sequence[str],
    rows: Any,
    words: Mapping[str, Sequence[str]],
    targets: Sequence[SelectionTarget],
    config: DecoderGridConfig,
    batch_size: int,
) -> tuple[Scorer, Any]:
    """
    The score of one grid point: the LMS on `texts` and the class-word probabilities on the rows a requested
    selection is measured on.

    Returns:
        `(score, scored rows)`, `score(model)` giving `(lms details, probabilities)`.
    """
    lms_scorer = LanguageModelingScorer(
        tokenizer, texts, objective.name, excluded_words=all_words(words), mask_ratio=config.mask_ratio,
        seed=config.seed, batch_size=batch_size, max_length=default_max_length(model, tokenizer),
    )
    measured = {t.rows_class for t in targets}  # only the texts a requested selection is measured on
    scored = rows.select([i for i, c in enumerate(rows["factual_class"]) if c in measured])
    probability_scorer = TargetProbabilityScorer(
        objective, scored["masked"], words, row_classes=scored["factual_class"], case_variants=config.case_variants,
        batch_size=batch_size,
    )

    def score(m: PreTrainedModel) -> tuple[dict, dict]:
        return lms_scorer(m), probability_scorer(m)["probabilities"]

    return score, scored


def sample_rows(rows, feature_classes: Sequence[str], max_size: int | None, seed: int):
    """The rows of the two classes, at most `max_size` per class (seeded sample, original order kept)."""
    classes = rows["factual_class"]
    by_class = {c: [i for i, x in enumerate(classes) if x == c] for c in feature_classes}
    missing = [c for c, index in by_class.items() if not index]
    if missing:
        raise ValueError(
            f"The rows have no texts of class(es) {missing} (there are {len(rows)} rows of classes "
            f"{sorted(set(classes))}); both classes {list(feature_classes)} need masked texts."
        )
    rng = random.Random(seed)
    keep = []
    for index in by_class.values():
        keep += sorted(rng.sample(index, max_size)) if max_size is not None and len(index) > max_size else index
    return rows.select(sorted(keep))


def lms_texts(
    neutral_texts: Sequence[str] | None, rows, words: Mapping[str, Sequence[str]], placeholder: str
) -> tuple[list[str], str, int]:
    """
    The LMS texts: neutral texts without target words, or (when none are given) the rows' texts with the factual word
    filled in.

    Returns:
        `(texts, source, dropped)` with `source` `"neutral"` or `"rows"` and the number of dropped neutral texts.
    """
    if neutral_texts is None:
        warnings.warn(
            "No neutral texts were given; the LMS is computed on the evaluation rows with their factual words "
            "filled in (target words are not scored). Pass neutral data for a feature-independent LMS.",
            stacklevel=3,
        )
        filled = [m.replace(placeholder, f, 1) for m, f in zip(rows["masked"], rows["factual"], strict=True)]
        return list(dict.fromkeys(filled)), "rows", 0
    if isinstance(neutral_texts, str):
        raise TypeError("neutral_texts must be a list of strings, not one string.")
    texts, dropped = drop_texts_with_words(list(neutral_texts), all_words(words))
    if not texts:
        raise ValueError(
            f"All {dropped} neutral texts contain target words ({all_words(words)}); pass neutral texts without them."
        )
    return texts, "neutral", dropped
