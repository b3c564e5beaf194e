"""Pairwise similarity of directions' importance vectors over base-global coordinates."""

from __future__ import annotations

import dataclasses
import itertools

import torch
from tqdm.auto import tqdm

from ..modeling_gradiend import IMPORTANCE_PARTS
from ..stats import pearson
from .loading import Directions, resolve_directions
from .matrix import LabelledMatrix
from .overlap import topk_overlap

SIMILARITY_MEASURES = ("cosine", "spearman", "topk_overlap")


def similarity_matrix(
    models: Directions, measure: str = "cosine", part: str = "decoder-weight", k: int | float = 1000
) -> LabelledMatrix:
    """
    Pairwise similarity of directions.

    `"cosine"` and `"spearman"` compare the directions' importance vectors ([`GradiendModel.importance`]: absolute
    values, so a direction trained with its classes swapped is still similar to the original). For each pair the
    vectors are laid out over the *union of the two directions' kept coordinates*, a coordinate one direction pruned
    away counting as 0 there. Cosine does not depend on that choice (zeros add nothing); Spearman does (a coordinate
    one direction keeps and the other pruned ranks at the bottom for the latter). A pair's value never depends on
    which other directions are compared.

    Args:
        models (`list` or `dict`): Directions, trainers or paths / Hub ids (see [`topk_sets`]).
        measure (`str`, *optional*, defaults to `"cosine"`):
            `"cosine"`: cosine of the importance vectors, in [0, 1];
            `"spearman"`: Spearman rank correlation of the importance vectors (ties get their average rank), in
            [-1, 1];
            `"topk_overlap"`: `|A ∩ B| / min(|A|, |B|)` of the top-`k` sets (see [`topk_overlap`]).
        part (`str`, *optional*, defaults to `"decoder-weight"`): Importance part compared.
        k (`int` or `float`, *optional*, defaults to 1000): Top-k size, for `measure="topk_overlap"` only.

    Returns:
        [`LabelledMatrix`] of `float64`; `nan` where a direction's importance vector is all zero (cosine) or constant
        (Spearman).

    Example:

    ```python
    >>> from hf_gradiend.compare import similarity_matrix
    >>> similarity_matrix([number_dir, gender_dir], measure="spearman").to_pandas()
    ```
    """
    if measure not in SIMILARITY_MEASURES:
        raise ValueError(f"measure={measure!r} is not supported; choose one of {', '.join(SIMILARITY_MEASURES)}.")
    if part not in IMPORTANCE_PARTS:
        raise ValueError(f"part={part!r} is not one of {', '.join(IMPORTANCE_PARTS)}.")
    directions = resolve_directions(models)
    if measure == "topk_overlap":
        overlap = topk_overlap(directions, k, value="intersection_frac", part=part)
        return dataclasses.replace(overlap, measure="topk_overlap")

    labels = list(directions)
    coordinates = [d.kept_coordinates.detach().cpu() for d in directions.values()]
    importances = [d.importance(part).detach().double().cpu() for d in directions.values()]
    shared = all(torch.equal(coordinates[0], c) for c in coordinates[1:])
    if shared and measure == "spearman":
        importances = [_average_ranks(v) for v in importances]  # rank each vector once, not once per pair

    size = len(labels)
    values = torch.full((size, size), float("nan"), dtype=torch.double)
    pairs = list(itertools.combinations_with_replacement(range(size), 2))
    for i, j in tqdm(pairs, desc=f"Similarity ({measure})", disable=len(pairs) < 50):
        if shared:
            x, y = importances[i], importances[j]
        else:
            x, y = _on_union(coordinates[i], importances[i], coordinates[j], importances[j])
            if measure == "spearman":
                x, y = _average_ranks(x), _average_ranks(y)
        values[i, j] = values[j, i] = _cosine(x, y) if measure == "cosine" else pearson(x, y)
    return LabelledMatrix(tuple(labels), values, measure, part=part)


def _on_union(
    coords_a: torch.Tensor, values_a: torch.Tensor, coords_b: torch.Tensor, values_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both vectors laid out over the sorted union of their coordinates, 0 where a vector has no coordinate."""
    union = torch.unique(torch.cat([coords_a, coords_b]))
    x = torch.zeros(union.numel(), dtype=values_a.dtype)
    y = torch.zeros(union.numel(), dtype=values_b.dtype)
    x[torch.searchsorted(union, coords_a)] = values_a
    y[torch.searchsorted(union, coords_b)] = values_b
    return x, y


def _cosine(x: torch.Tensor, y: torch.Tensor) -> float:
    denominator = x.norm() * y.norm()
    return float((x @ y) / denominator) if denominator > 0 else float("nan")


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks of `x`, tied values sharing their average rank (as in Spearman's rho)."""
    ordered, order = torch.sort(x, stable=True)
    _, inverse, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, dim=0).double()
    average = ends - (counts.double() - 1) / 2
    ranks = torch.empty(x.numel(), dtype=torch.double)
    ranks[order] = average[inverse]
    return ranks
