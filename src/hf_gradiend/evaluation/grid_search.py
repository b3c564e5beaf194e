"""The decoder grid's search: the in-place weight editor ([`InPlaceUpdate`]) and the walk over (α, h) ([`run_grid`]).

Every grid point writes `θ + α·dec(h)` into the selected weights **in place** (no model copy), computed from saved
copies of the original tensors, and scores the model; the originals are copied back when the grid ends (or fails), so
afterwards the base weights are bit-identical to before. With early stopping each feature value's line is walked
from its middle |α| and the points the policy can tell apart without scoring are skipped; the rules are the named
predicates below ([`LineState`]).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel

from ..modeling_gradiend import GradiendModel
from .policies import SelectionPolicy, SelectionTarget
from .records import GridPoint, finite_scores

Scorer = Callable[[PreTrainedModel], tuple[dict, dict]]
"""Scores a model: `(lms details with key "lms", {text class: {word class: mean probability}})`."""


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


@dataclass
class LineState:
    """
    What the points scored so far on one feature value's line decide about its other learning rates.

    A line is walked upwards from index `start` of the |α|-sorted learning rates, then downwards from `start - 1`.

    Args:
        start (`int`): Index of the line's first |α| (its middle one with early stopping, else 0).
        stopped (`str`, *optional*): The policy's reason to stop raising α, once it gave one.
        dominating ([`GridPoint`], *optional*): A point at or below `start` that outranks every smaller |α|.
        losing ([`GridPoint`], *optional*): A point at or below `start` that works against every target.
    """

    start: int
    stopped: str | None = None
    dominating: GridPoint | None = None
    losing: GridPoint | None = None

    def indices(self, size: int) -> list[int]:
        """The walk over `size` learning rates: up from `start`, then down from `start - 1`."""
        return [*range(self.start, size), *range(self.start - 1, -1, -1)]

    def upwards(self, i: int) -> bool:
        """Whether index `i` is on the upward part of the walk (at or above the start)."""
        return i >= self.start

    def dominated(self, i: int) -> bool:
        """Below the start, a point already scored outranks every smaller |α|."""
        return i < self.start and self.dominating is not None

    def between_loser_and_smallest(self, i: int) -> bool:
        """Below a point that loses for every target, and above the smallest |α| (which is still scored)."""
        return 0 < i < self.start and self.losing is not None

    def stopped_early(self, i: int) -> bool:
        """On the upward walk after the policy said larger α cannot be chosen."""
        return self.upwards(i) and self.stopped is not None


def skip_reason(line: LineState, i: int, h: float, order: Sequence[float]) -> str | None:
    """Why the point `(order[i], h)` need not be scored, by the rules of [`LineState`]; `None` to score it."""
    if line.dominated(i):
        return (
            f"dominated by learning rate {line.dominating.learning_rate:g} (h={h:g}), which keeps the policy's "
            "constraint and gains for every target; to first order a smaller learning rate gains proportionally "
            "less (early_stop=False evaluates it)"
        )
    if line.between_loser_and_smallest(i):
        return (
            f"between learning rate {line.losing.learning_rate:g} (h={h:g}), which loses for every target, and the "
            f"smallest learning rate {order[0]:g}, which is scored: to first order a learning rate in between loses "
            "more than the smallest (early_stop=False evaluates it)"
        )
    if line.stopped_early(i):
        return f"early stop: {line.stopped}"
    return None


def learn_from(
    line: LineState,
    i: int,
    point: GridPoint,
    base: GridPoint,
    points: Sequence[GridPoint],
    policy: SelectionPolicy,
    targets: Sequence[SelectionTarget],
) -> None:
    """Update `line` with an evaluated `point` at index `i`: the policy's stop reason, dominance and loss."""
    if line.upwards(i):
        evaluated = [p for p in points if p.status == "evaluated"]
        line.stopped = policy.stop_reason(point, base, evaluated, targets)
    at_or_below_start = i <= line.start
    if at_or_below_start and policy.dominates_smaller(point, base, targets):
        line.dominating = point
    elif at_or_below_start and line.losing is None and policy.loses_for_every_target(point, base, targets):
        line.losing = point


def score_base(model: PreTrainedModel, score: Scorer) -> GridPoint:
    """The unmodified model's point; an error when its scores are not finite, a warning when its LMS is 0."""
    started = time.perf_counter()
    lms, probabilities = score(model)
    base = GridPoint(None, None, "base", lms=lms["lms"], lms_details=lms, probabilities=probabilities,
                     seconds=time.perf_counter() - started)
    if not finite_scores(base):
        raise ValueError("The unmodified base model produces non-finite scores; check its weights and dtype.")
    if base.lms == 0:
        warnings.warn(
            "The base model's LMS is 0 on these texts, so an LMS constraint relative to it admits every point. Use "
            "more or easier neutral texts, or a trained base model.",
            stacklevel=4,
        )
    return base


def score_point(model: PreTrainedModel, update: InPlaceUpdate, score: Scorer, alpha: float, h: float) -> GridPoint:
    """Write `θ + alpha·dec(h)` and score it; a skipped point when the update is refused or a score is not finite."""
    started = time.perf_counter()
    refused = update.apply(h, alpha)
    if refused is not None:
        return GridPoint(alpha, h, "skipped", reason=refused)
    lms, probabilities = score(model)
    point = GridPoint(alpha, h, "evaluated", lms=lms["lms"], lms_details=lms, probabilities=probabilities,
                      seconds=time.perf_counter() - started)
    if not finite_scores(point):
        point.status, point.reason = "skipped", "the rewritten model produced non-finite scores"
    return point


def run_grid(
    model: PreTrainedModel,
    direction: GradiendModel,
    score: Scorer,
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
    base = score_base(model, score)
    order = sorted(dict.fromkeys(learning_rates), key=abs)
    values = list(dict.fromkeys(feature_values))
    points: list[GridPoint] = []
    bar = tqdm(total=len(order) * len(values), desc="Decoder grid", disable=not show_progress)
    with InPlaceUpdate(model, direction) as update:
        for h in values:
            line = LineState(start=len(order) // 2 if early_stop else 0)
            for i in line.indices(len(order)):
                bar.update(1)
                reason = skip_reason(line, i, h, order)
                point = GridPoint(order[i], h, "skipped", reason=reason) if reason is not None else (
                    score_point(model, update, score, order[i], h)
                )
                points.append(point)
                if early_stop and reason is None and point.status == "evaluated":
                    learn_from(line, i, point, base, points, policy, targets)
    bar.close()
    rank = {h: j for j, h in enumerate(values)}
    position = {alpha: j for j, alpha in enumerate(order)}
    return base, sorted(points, key=lambda p: (rank[p.feature_value], position[p.learning_rate]))
