"""Pairwise overlap of directions' top-k coordinate sets."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .loading import Directions
from .matrix import LabelledMatrix
from .topk import topk_coordinates

OVERLAP_VALUES = ("intersection", "intersection_frac")


def topk_overlap(
    models: Directions, k: int | float, value: str = "intersection_frac", part: str = "decoder-weight"
) -> LabelledMatrix:
    """
    Pairwise overlap of the directions' top-k base-global coordinates.

    Args:
        models (`list` or `dict`): Directions, trainers or paths / Hub ids (see [`topk_sets`]).
        k (`int` or `float`): Top-k size, a count or a fraction of each direction's kept coordinates.
        value (`str`, *optional*, defaults to `"intersection_frac"`):
            `"intersection"`: `|A ∩ B|` (an `int64` matrix, the diagonal holds each set's size);
            `"intersection_frac"`: `|A ∩ B| / min(|A|, |B|)` in [0, 1], so 1 means the smaller set lies inside the
            larger one (the diagonal is 1).
        part (`str`, *optional*, defaults to `"decoder-weight"`): Importance used to rank coordinates.

    Returns:
        [`LabelledMatrix`] with `measure=value`.

    Example:

    ```python
    >>> overlap = topk_overlap({"number": number_dir, "gender": gender_dir}, k=1000)
    >>> overlap["number", "gender"]
    0.118
    ```
    """
    _check_value(value)
    return overlap_matrix(topk_coordinates(models, k, part), value, part=part, k=k)


def overlap_matrix(
    coordinates: Mapping[str, torch.Tensor], value: str = "intersection_frac", part: str | None = None,
    k: int | float | None = None,
) -> LabelledMatrix:
    """
    Pairwise overlap of given coordinate sets (1-D tensors of unique coordinates, e.g. from [`topk_coordinates`]).

    Args:
        coordinates (`dict[str, torch.Tensor]`): label → coordinates.
        value (`str`): `"intersection"` or `"intersection_frac"`, as in [`topk_overlap`].
        part, k: Recorded on the returned matrix.
    """
    _check_value(value)
    labels = list(coordinates)
    tensors = [torch.as_tensor(coordinates[label]).reshape(-1).cpu() for label in labels]
    size = len(tensors)
    counts = torch.zeros(size, size, dtype=torch.long)
    for i in range(size):
        counts[i, i] = tensors[i].numel()
        for j in range(i + 1, size):
            counts[i, j] = counts[j, i] = int(torch.isin(tensors[i], tensors[j]).sum())
    if value == "intersection":
        return LabelledMatrix(tuple(labels), counts, value, part=part, k=k)
    sizes = counts.diagonal()
    smaller = torch.minimum(sizes[:, None], sizes[None, :]).double()
    fractions = torch.where(smaller > 0, counts.double() / smaller.clamp(min=1), torch.zeros((), dtype=torch.double))
    return LabelledMatrix(tuple(labels), fractions, value, part=part, k=k)


def _check_value(value: str) -> None:
    if value not in OVERLAP_VALUES:
        raise ValueError(f"value={value!r} is not supported; choose one of {', '.join(OVERLAP_VALUES)}.")
