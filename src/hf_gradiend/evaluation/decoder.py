"""Decoder evaluation: score the base model rewritten as θ + α·dec(h) over a grid of (α, h), and choose per class.

Every grid point writes `θ + α·dec(h)` into the selected weights **in place** (no model copy), computed from saved
copies of the original tensors, and scores the model; the originals are copied back when the grid ends (or fails), so
afterwards the base weights are bit-identical to before. Each point is scored with the
language-modelling score ([`LanguageModelingScorer`]) on neutral text and the probability of each class's words at
the placeholder ([`TargetProbabilityScorer`]) on the split's masked texts.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..gradients.objectives import DEFAULT_PLACEHOLDER, TextObjective, build_objective, infer_objective_name
from ..modeling_gradiend import GradiendModel
from .lms import DEFAULT_MASK_RATIO, LanguageModelingScorer, default_max_length
from .policies import SelectionPolicy, SelectionTarget, resolve_policy
from .probabilities import TargetProbabilityScorer
from .texts import all_words, class_words, drop_texts_with_words

DEFAULT_LEARNING_RATES = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""The default α grid: 16 values, 1e-3 to 100 in 1-2-5 steps (each feature value's line starts at the middle one)."""

DEFAULT_FEATURE_VALUES = (1.0, 0.0, -1.0)
"""The default h values: each class's pole and 0 (the decoder bias alone, the "neutralising" direction)."""


@dataclass
class GridPoint:
    """
    One point of a decoder grid.

    Args:
        learning_rate (`float`, *optional*): α (`None` for the base model).
        feature_value (`float`, *optional*): h (`None` for the base model).
        status (`str`): `"base"`, `"evaluated"` or `"skipped"`.
        reason (`str`, *optional*): Why a point was skipped.
        lms (`float`): Language-modelling score (`nan` when not evaluated).
        lms_details (`dict`): The scorer's full output (`correct`, `total`, `nll`, ...).
        probabilities (`dict`): `{text class: {word class: mean probability}}`.
        seconds (`float`): Wall time of the point (weight edit and scoring).
    """

    learning_rate: float | None
    feature_value: float | None
    status: str
    reason: str | None = None
    lms: float = float("nan")
    lms_details: dict = field(default_factory=dict)
    probabilities: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class InPlaceUpdate:
    """
    Sets the selected weights of `model` to `θ + α·dec(h)` in place and restores them from saved copies.

    The originals `θ` are cloned once when the object is created. Each [`apply`] computes its point from them (so
    points never accumulate) and [`restore`] copies them back, so the weights are bit-identical afterwards (no
    subtraction, no rounding). Use it as a context manager to restore on exit.

    Args:
        model (`PreTrainedModel`): The base model (its selected weights are edited).
        direction ([`GradiendModel`]): The direction whose `update_for(h, alpha)` gives the deltas.

    Example:

    ```python
    >>> with InPlaceUpdate(model, direction) as update:
    ...     for alpha in (0.1, 1.0):
    ...         update.apply(h=1.0, alpha=alpha)  # None, or the reason the update was refused
    ...         score(model)
    >>> # here the weights are the originals again
    ```
    """

    def __init__(self, model: PreTrainedModel, direction: GradiendModel):
        direction.check_base_model(model)
        selection = direction.selection
        self.direction = direction
        self.parameters = dict(zip(selection.names, selection.parameters(model), strict=True))
        with torch.no_grad():
            self.originals = {name: p.detach().clone() for name, p in self.parameters.items()}
            self._max_original = {name: float(p.abs().max()) if p.numel() else 0.0
                                  for name, p in self.originals.items()}
        self._decoded: tuple[float, dict[str, torch.Tensor], dict[str, float]] | None = None
        self.applied = False

    @torch.no_grad()
    def _decode(self, h: float) -> tuple[dict[str, torch.Tensor], dict[str, float]] | str:
        """`dec(h)` per parameter on the parameter's device (cached for the last `h`), or why it cannot be used."""
        if self._decoded is None or self._decoded[0] != h:
            self._decoded = None  # free the previous one first
            decoded = {name: d.to(device=self.parameters[name].device, dtype=self.parameters[name].dtype)
                       for name, d in self.direction.update_for(h, 1.0).items()}
            largest = {name: float(d.abs().max()) if d.numel() else 0.0 for name, d in decoded.items()}
            self._decoded = (h, decoded, largest)
        _, decoded, largest = self._decoded
        if not all(math.isfinite(v) for v in largest.values()):
            return f"dec(h) has non-finite values (h={h:g})"
        if not any(largest.values()):
            return f"the update alpha*dec(h) is zero (h={h:g}: h=0 without a decoder bias)"
        return decoded, largest

    @torch.no_grad()
    def apply(self, h: float, alpha: float) -> str | None:
        """
        Set the weights to `θ + alpha · dec(h)`, `θ` being the saved originals (so any earlier point is replaced,
        not accumulated). `dec(h)` is `direction.update_for(h, 1.0)`, computed once per `h` in the weights' dtype;
        each point is one fused multiply-add per weight (at most one rounding, so it may differ from
        `θ + update_for(h, alpha)` in the last bit).

        Finiteness is decided from the largest magnitudes of `dec(h)` and of the original weights; only updates
        close to the dtype's range are scanned element by element.

        Returns:
            `None` on success, else the reason nothing was changed (a non-finite update, or weights that overflow);
            the weights are then the originals.
        """
        decoded = self._decode(h)
        if isinstance(decoded, str):
            self.restore()
            return decoded
        decoded, largest = decoded
        self.applied = True
        for name, parameter in self.parameters.items():
            scale = abs(float(torch.tensor(alpha, dtype=parameter.dtype)))  # alpha as the kernel sees it
            if not math.isfinite(scale):
                self.restore()
                return (
                    f"the update alpha*dec(h) has non-finite values (alpha={alpha:g} is out of the range of "
                    f"{_name(parameter.dtype)}; h={h:g})"
                )
            # one fused pass: read θ and dec(h), write θ + α·dec(h)
            torch.add(self.originals[name], decoded[name], alpha=alpha, out=parameter)
            bound = self._max_original[name] + scale * largest[name]
            if bound >= torch.finfo(parameter.dtype).max / 2 and not bool(torch.isfinite(parameter).all()):
                self.restore()
                return (
                    f"theta + alpha*dec(h) has non-finite weights (alpha={alpha:g}, h={h:g}; overflow in "
                    f"{_name(parameter.dtype)})"
                )
        return None

    @torch.no_grad()
    def restore(self) -> None:
        """Copy the original weights back (a no-op when nothing is applied)."""
        if self.applied:
            for name, parameter in self.parameters.items():
                parameter.copy_(self.originals[name])
            self.applied = False

    def __enter__(self) -> InPlaceUpdate:
        return self

    def __exit__(self, *exc) -> None:
        self.restore()


def _name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def run_grid(
    model: PreTrainedModel,
    direction: GradiendModel,
    score: Any,
    learning_rates: Sequence[float],
    feature_values: Sequence[float],
    policy: SelectionPolicy,
    targets: Sequence[SelectionTarget],
    early_stop: bool = True,
    show_progress: bool = True,
) -> tuple[GridPoint, list[GridPoint]]:
    """
    Score the base model and every (α, h) point, editing weights in place (restored when done).

    For each feature value (in the given order) every learning rate is scored, or, with `early_stop`, a line starts
    at its middle |α| and is raised until `policy.stop_reason` says larger α cannot be chosen, then lowered from the
    middle until `policy.dominates_smaller` says a point outranks every smaller |α| (a constraint-keeping point
    that gains for every target, for the default policy); once `policy.loses_for_every_target` says a point works
    against every target, only the smallest |α| below it is scored (the least harmful of that line). A
    well-trained direction's line is decided in a handful of points. Points whose update or scores are not finite
    are skipped with the reason and never selected.

    Args:
        model: The base model. direction: The direction.
        score (`Callable[[PreTrainedModel], tuple[dict, dict]]`): Returns `(lms details, probabilities)`.
        learning_rates, feature_values: The grid.
        policy ([`SelectionPolicy`]): Decides early stops.
        targets (`list[SelectionTarget]`): The selections the grid serves (for the policy's stop rule).
        early_stop (`bool`): Stop raising α once points cannot be chosen.
        show_progress (`bool`): Show a progress bar.

    Returns:
        `(base point, grid points)`; grid points by feature value (in the given order), then |α|, skipped ones
        included.
    """
    started = time.perf_counter()
    lms, probabilities = score(model)
    base = GridPoint(None, None, "base", lms=lms["lms"], lms_details=lms, probabilities=probabilities,
                     seconds=time.perf_counter() - started)
    if not _finite_scores(base):
        raise ValueError("The unmodified base model produces non-finite scores; check its weights and dtype.")
    if base.lms == 0:
        warnings.warn(
            "The base model's LMS is 0 on these texts, so an LMS constraint relative to it admits every point. Use "
            "more or easier neutral texts, or a trained base model.",
            stacklevel=3,
        )
    order = sorted(dict.fromkeys(learning_rates), key=abs)
    points: list[GridPoint] = []
    bar = tqdm(total=len(order) * len(dict.fromkeys(feature_values)), desc="Decoder grid", disable=not show_progress)
    with InPlaceUpdate(model, direction) as update:

        def evaluate(alpha: float, h: float) -> GridPoint:
            bar.update(1)
            started = time.perf_counter()
            refused = update.apply(h, alpha)
            if refused is not None:
                point = GridPoint(alpha, h, "skipped", reason=refused)
            else:
                lms, probabilities = score(model)
                point = GridPoint(alpha, h, "evaluated", lms=lms["lms"], lms_details=lms,
                                  probabilities=probabilities, seconds=time.perf_counter() - started)
                if not _finite_scores(point):
                    point.status, point.reason = "skipped", "the rewritten model produced non-finite scores"
            points.append(point)
            return point

        def skip(alpha: float, h: float, reason: str) -> None:
            bar.update(1)
            points.append(GridPoint(alpha, h, "skipped", reason=reason))

        for h in dict.fromkeys(feature_values):
            # With early stopping a line starts at its middle |α|: upwards until the policy stops it, then
            # downwards until a point dominates every smaller |α|; below a point that loses for every target only
            # the smallest |α| is scored.
            start = len(order) // 2 if early_stop else 0
            stopped: str | None = None
            dominating: GridPoint | None = None
            losing: GridPoint | None = None
            for i in [*range(start, len(order)), *range(start - 1, -1, -1)]:
                alpha = order[i]
                if i < start and dominating is not None:
                    skip(alpha, h, f"dominated by learning rate {dominating.learning_rate:g} (h={h:g}), which keeps "
                         "the policy's constraint and gains for every target; to first order a smaller learning "
                         "rate gains proportionally less (early_stop=False evaluates it)")
                    continue
                if 0 < i < start and losing is not None:
                    skip(alpha, h, f"between learning rate {losing.learning_rate:g} (h={h:g}), which loses for every "
                         f"target, and the smallest learning rate {order[0]:g}, which is scored: to first order a "
                         "learning rate in between loses more than the smallest (early_stop=False evaluates it)")
                    continue
                if i >= start and stopped is not None:
                    skip(alpha, h, f"early stop: {stopped}")
                    continue
                point = evaluate(alpha, h)
                if not early_stop or point.status != "evaluated":
                    continue
                if i >= start:
                    evaluated = [p for p in points if p.status == "evaluated"]
                    stopped = policy.stop_reason(point, base, evaluated, targets)
                if i <= start and policy.dominates_smaller(point, base, targets):
                    dominating = point
                elif i <= start and losing is None and policy.loses_for_every_target(point, base, targets):
                    losing = point
    bar.close()
    rank = {h: j for j, h in enumerate(dict.fromkeys(feature_values))}
    position = {alpha: j for j, alpha in enumerate(order)}
    return base, sorted(points, key=lambda p: (rank[p.feature_value], position[p.learning_rate]))


def _finite_scores(point: GridPoint) -> bool:
    values = [point.lms] + [p for row in point.probabilities.values() for p in row.values()]
    return all(math.isfinite(v) for v in values)


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


def check_grid(learning_rates: Sequence[float] | None, feature_values: Sequence[float]) -> tuple[list, list]:
    """Validate the grid values: non-empty, finite numbers; learning rates non-zero."""
    learning_rates = list(DEFAULT_LEARNING_RATES if learning_rates is None else learning_rates)
    feature_values = list(feature_values)
    for name, values in (("learning_rates", learning_rates), ("feature_values", feature_values)):
        if not values:
            raise ValueError(f"{name} is empty; give at least one value.")
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
        if bad:
            raise ValueError(f"{name} must be finite numbers; got {bad}.")
    if any(v == 0 for v in learning_rates):
        raise ValueError("learning_rates contains 0, which is the unmodified model (always scored as the base).")
    return [float(v) for v in learning_rates], [float(v) for v in feature_values]


def evaluate_decoder_grid(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    direction: GradiendModel,
    rows: Any,
    neutral_texts: Sequence[str] | None = None,
    target_class: str | None = None,
    increase: bool | None = True,
    learning_rates: Sequence[float] | None = None,
    feature_values: Sequence[float] = DEFAULT_FEATURE_VALUES,
    policy: str | SelectionPolicy | None = "lms_threshold",
    feature_classes: Sequence[str] | None = None,
    words: Mapping[str, Sequence[str]] | None = None,
    objective: str | TextObjective | None = None,
    placeholder: str = DEFAULT_PLACEHOLDER,
    max_size: int | None = None,
    batch_size: int = 16,
    early_stop: bool = True,
    mask_ratio: float = DEFAULT_MASK_RATIO,
    case_variants: bool = True,
    seed: int = 0,
    show_progress: bool = True,
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
        learning_rates (`list[float]`, *optional*): α values; [`DEFAULT_LEARNING_RATES`] when omitted.
        feature_values (`list[float]`, *optional*, defaults to `(1.0, 0.0, -1.0)`): h values.
        policy (`str` or [`SelectionPolicy`], *optional*, defaults to `"lms_threshold"`):
            `"lms_threshold"` ([`LMSThresholdPolicy`]), `"lms_times_metric"` ([`LMSTimesMetricPolicy`]) or an
            instance of a [`SelectionPolicy`] subclass.
        feature_classes (`list[str]`, *optional*): The two classes, +1 first; from the direction's config by default.
        words (`dict[str, list[str]]`, *optional*): Each class's words; collected from `rows` by default.
        objective (`str` or `TextObjective`, *optional*): `"masked_lm"`/`"causal_lm"` or an objective instance;
            from the direction's config or the model by default.
        placeholder (`str`, *optional*, defaults to `"[MASK]"`): The target word's marker in masked texts.
        max_size (`int`, *optional*): At most this many rows per class and this many neutral texts (seeded sample).
        batch_size (`int`, *optional*, defaults to 16): Texts per forward pass.
        early_stop (`bool`, *optional*, defaults to `True`): Start each direction at its middle α, stop raising α
            once the policy says larger α cannot be chosen and stop lowering it once a point dominates the smaller
            ones (see [`run_grid`]; recorded as skipped points). `False` scores every point.
        mask_ratio (`float`, *optional*, defaults to 0.15): Masked share of eligible tokens in the masked-LM LMS.
        case_variants (`bool`, *optional*, defaults to `True`): Sum case variants of the class words.
        seed (`int`, *optional*, defaults to 0): Seed of the LMS masks and of `max_size` sampling.
        show_progress (`bool`, *optional*, defaults to `True`): Show a progress bar over grid points.

    Returns:
        `dict` with one entry per selection — key `"<class>"` when strengthening, `"<class>_weaken"` when weakening —
        each as described in [`select`]; `"grid"`: every grid point as a dict (evaluated and skipped ones, with
        `status` and `reason`); `"base"`: the unmodified model's scores; `"settings"`: the policy, the grid, the
        class words and the neutral texts used (`neutral_source`, `neutral_texts`, `neutral_dropped`).

    Example:

    ```python
    >>> from hf_gradiend.evaluation import evaluate_decoder_grid
    >>> results = evaluate_decoder_grid(model, tokenizer, direction, test_rows, neutral_texts, target_class="3PL")
    >>> results["3PL"]["learning_rate"], results["3PL"]["feature_value"], results["3PL"]["lms"]
    ```
    """
    from ..training.rows import as_dataset

    rows = as_dataset(rows)
    feature_classes = list(feature_classes or direction.config.feature_classes or [])
    if len(feature_classes) != 2:
        raise ValueError(
            f"feature_classes={feature_classes!r}: the decoder evaluation needs the direction's two classes; pass "
            "feature_classes=[positive, negative]."
        )
    targets = selection_targets(feature_classes, target_class, increase)
    learning_rates, feature_values = check_grid(learning_rates, feature_values)
    policy = resolve_policy(policy)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1.")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size={max_size} must be at least 1 (or None for all rows).")
    rows = sample_rows(rows, feature_classes, max_size, seed)
    words = dict(words) if words is not None else class_words(rows, feature_classes)
    if not isinstance(objective, TextObjective):
        name = objective or direction.config.objective or infer_objective_name(model)
        objective = build_objective(name, tokenizer, placeholder)

    texts, source, dropped = lms_texts(neutral_texts, rows, words, objective.placeholder)
    if max_size is not None and len(texts) > max_size:
        texts = random.Random(seed).sample(texts, max_size)
    lms_scorer = LanguageModelingScorer(
        tokenizer, texts, objective.name, excluded_words=all_words(words), mask_ratio=mask_ratio, seed=seed,
        batch_size=batch_size, max_length=default_max_length(model, tokenizer),
    )
    measured = {t.rows_class for t in targets}  # only the texts a requested selection is measured on
    scored = rows.select([i for i, c in enumerate(rows["factual_class"]) if c in measured])
    probability_scorer = TargetProbabilityScorer(
        objective, scored["masked"], words, row_classes=scored["factual_class"], case_variants=case_variants,
        batch_size=batch_size,
    )

    def score(m: PreTrainedModel) -> tuple[dict, dict]:
        return lms_scorer(m), probability_scorer(m)["probabilities"]

    was_training = model.training
    model.eval()
    try:
        base, points = run_grid(
            model, direction, score, learning_rates, feature_values, policy, targets, early_stop, show_progress
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
        "early_stop": early_stop,
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
