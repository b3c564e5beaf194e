"""How a decoder grid's point is chosen for a class: selection targets and selection policies."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from .records import GridPoint


@dataclass(frozen=True)
class SelectionTarget:
    """
    What a rewrite should do: strengthen (`increase=True`) or weaken one feature class.

    Strengthening class C is measured on texts of the *other* class (how much C's words gain where the other class
    is the truth); weakening C is measured on texts of C itself.

    Args:
        target_class (`str`): The class to strengthen or weaken.
        other_class (`str`): The feature's other class.
        increase (`bool`, *optional*, defaults to `True`): Strengthen (`True`) or weaken (`False`).
    """

    target_class: str
    other_class: str
    increase: bool = True

    @property
    def key(self) -> str:
        """Result key: `"<class>"` when strengthening, `"<class>_weaken"` when weakening."""
        return self.target_class if self.increase else f"{self.target_class}_weaken"

    @property
    def rows_class(self) -> str:
        """Class of the texts the probabilities are measured on."""
        return self.other_class if self.increase else self.target_class

    def probability(self, point: GridPoint) -> float:
        """Mean probability of the target class's words on the measured texts at `point`."""
        return point.probabilities[self.rows_class][self.target_class]

    def other_probability(self, point: GridPoint) -> float:
        """Mean probability of the other class's words on the same texts."""
        return point.probabilities[self.rows_class][self.other_class]

    def gain(self, point: GridPoint, base: GridPoint) -> float:
        """The change in the wanted direction relative to the base model (positive is better)."""
        change = self.probability(point) - self.probability(base)
        return change if self.increase else -change

    def metric(self, point: GridPoint) -> float:
        """A 0–1 score, higher is better: the target probability when strengthening, one minus it when weakening."""
        p = self.probability(point)
        return p if self.increase else 1.0 - p


@dataclass
class Selection:
    """
    A policy's choice.

    Args:
        point ([`GridPoint`]): The chosen grid point.
        score (`float`): The policy's score of that point.
        fallback (`bool`): Whether no point met the policy's constraint and a fallback was taken.
    """

    point: GridPoint
    score: float
    fallback: bool = False


class SelectionPolicy:
    """
    Base class of selection policies. Subclass it and implement [`select`] (and optionally [`stop_reason`]) to add a
    policy; pass an instance as `policy=` to the decoder evaluation.
    """

    name = "custom"

    def select(self, points: Sequence[GridPoint], base: GridPoint, target: SelectionTarget) -> Selection:
        """Choose one of the evaluated `points` (never empty) for `target`."""
        raise NotImplementedError

    def stop_reason(
        self, point: GridPoint, base: GridPoint, evaluated: Sequence[GridPoint], targets: Sequence[SelectionTarget]
    ) -> str | None:
        """
        Why larger learning rates along `point`'s feature value cannot be chosen, or `None` to keep going. The grid
        raises α from a direction's middle α and skips the larger ones once this returns a reason.
        """
        return None

    def dominates_smaller(self, point: GridPoint, base: GridPoint, targets: Sequence[SelectionTarget]) -> bool:
        """
        Whether `point` would be chosen over every point with the same feature value and a smaller |α|, so the grid
        need not score those. `False` (score them all) unless a policy knows better.
        """
        return False

    def loses_for_every_target(
        self, point: GridPoint, base: GridPoint, targets: Sequence[SelectionTarget]
    ) -> bool:
        """
        Whether `point` keeps the policy's constraint but works against every target, so that of the smaller |α|
        along its line only the smallest (the least harmful) need be scored. `False` unless a policy knows better.
        """
        return False

    def describe(self) -> dict:
        """The policy's name and parameters (stored in the results)."""
        return {"name": self.name}


class LMSThresholdPolicy(SelectionPolicy):
    """
    The default policy: among points whose LMS is at least `ratio` × the base model's LMS, the one with the largest
    gain (the strongest increase of the target class's probability, or decrease when weakening); ties go to the
    smaller |α|. When no point meets the constraint it falls back to the smallest |α| (best gain among those) and
    warns. Raising α along a direction stops once the LMS falls below the constraint, or once the gain of every
    target has fallen twice in a row below zero (a direction that works against every target: its larger α would
    only be chosen as the fallback, which takes the smallest |α|); lowering α stops at a point that keeps the
    constraint and gains for every target (to first order, smaller α gain proportionally less).

    Args:
        ratio (`float`, *optional*, defaults to 0.99): Share of the base LMS a chosen point must keep.
    """

    name = "lms_threshold"

    def __init__(self, ratio: float = 0.99):
        if not ratio > 0 or not math.isfinite(ratio):
            raise ValueError(f"ratio={ratio} must be a positive number, e.g. 0.99.")
        self.ratio = ratio

    def threshold(self, base: GridPoint) -> float:
        return self.ratio * base.lms

    def select(self, points: Sequence[GridPoint], base: GridPoint, target: SelectionTarget) -> Selection:
        admissible = [p for p in points if p.lms >= self.threshold(base)]
        if admissible:
            best = max(admissible, key=lambda p: (target.gain(p, base), -abs(p.learning_rate)))
            return Selection(best, target.gain(best, base))
        smallest = min(abs(p.learning_rate) for p in points)
        best = max((p for p in points if abs(p.learning_rate) == smallest), key=lambda p: target.gain(p, base))
        warnings.warn(
            f"No grid point keeps LMS >= {self.ratio} x base LMS ({self.threshold(base):.4f}) for {target.key!r}; "
            f"falling back to the smallest learning rate {best.learning_rate:g} (h={best.feature_value:g}, LMS "
            f"{best.lms:.4f}). Add smaller learning_rates to the grid.",
            stacklevel=3,
        )
        return Selection(best, target.gain(best, base), fallback=True)

    def stop_reason(self, point, base, evaluated, targets) -> str | None:
        if point.lms < self.threshold(base):
            return (
                f"LMS {point.lms:.4f} at learning rate {point.learning_rate:g} fell below {self.ratio} x base LMS "
                f"({self.threshold(base):.4f}); larger learning rates along h={point.feature_value:g} are not "
                "evaluated (early_stop=False evaluates them)"
            )
        line = [p for p in evaluated if p.feature_value == point.feature_value and p is not point]
        if targets and line:
            previous = line[-1]
            if all(t.gain(point, base) < t.gain(previous, base) < 0 for t in targets):
                return (
                    f"the gain of every target fell below zero twice in a row along h={point.feature_value:g} (at "
                    f"learning rates {previous.learning_rate:g} and {point.learning_rate:g}); larger learning rates "
                    "are not evaluated (early_stop=False evaluates them)"
                )
        return None

    def dominates_smaller(self, point, base, targets) -> bool:
        # Near the base model a rewrite's effect is linear in α: a smaller α along the same line moves every
        # probability proportionally less, so a point that keeps the constraint and gains for every target wins.
        return bool(targets) and point.lms >= self.threshold(base) and all(t.gain(point, base) > 0 for t in targets)

    def loses_for_every_target(self, point, base, targets) -> bool:
        # to first order a smaller α along the line loses proportionally less: the smallest loses least
        return bool(targets) and point.lms >= self.threshold(base) and all(t.gain(point, base) < 0 for t in targets)

    def describe(self) -> dict:
        return {"name": self.name, "ratio": self.ratio}


class LMSTimesMetricPolicy(SelectionPolicy):
    """
    The argmax of metric × LMS, where the metric is the target class's mean probability (strengthening) or one minus
    it (weakening) — the product-style selection of the GRADIEND papers. Since the metric is at most 1, a point
    whose LMS is below the best product found so far for every target cannot win, and raising α stops there.
    """

    name = "lms_times_metric"

    def score(self, point: GridPoint, target: SelectionTarget) -> float:
        return target.metric(point) * point.lms

    def select(self, points: Sequence[GridPoint], base: GridPoint, target: SelectionTarget) -> Selection:
        best = max(points, key=lambda p: (self.score(p, target), -abs(p.learning_rate)))
        return Selection(best, self.score(best, target))

    def stop_reason(self, point, base, evaluated, targets) -> str | None:
        if not evaluated or not targets:
            return None
        bests = [max(self.score(p, t) for p in evaluated) for t in targets]
        if all(point.lms < b for b in bests):
            return (
                f"LMS {point.lms:.4f} at learning rate {point.learning_rate:g} is below the best metric x LMS of "
                f"every target ({min(bests):.4f}); larger learning rates along h={point.feature_value:g} are not "
                "evaluated (early_stop=False evaluates them)"
            )
        return None


POLICIES: dict[str, type[SelectionPolicy]] = {
    LMSThresholdPolicy.name: LMSThresholdPolicy,
    LMSTimesMetricPolicy.name: LMSTimesMetricPolicy,
}
"""Policies selectable by name; add a subclass here (or pass an instance) to extend."""


def resolve_policy(policy: str | SelectionPolicy | None) -> SelectionPolicy:
    """A policy instance from a name in [`POLICIES`] or an instance (`None` gives the default threshold policy)."""
    if policy is None:
        return LMSThresholdPolicy()
    if isinstance(policy, SelectionPolicy):
        return policy
    if isinstance(policy, str) and policy in POLICIES:
        return POLICIES[policy]()
    raise ValueError(
        f"policy={policy!r} is not one of {sorted(POLICIES)}; pass a name or a SelectionPolicy instance."
    )
