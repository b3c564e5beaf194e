"""Top-k coordinate sets of directions, in base-global coordinates."""

from __future__ import annotations

import torch

from .loading import Directions, resolve_directions


def topk_coordinates(models: Directions, k: int | float, part: str = "decoder-weight") -> dict[str, torch.Tensor]:
    """
    The `k` most important base-global coordinates of each direction, as sorted tensors.

    Same inputs as [`topk_sets`]; tensors suit large `k`, where Python sets get heavy.

    Returns:
        `dict[str, torch.LongTensor]`: label → ascending coordinates (on the CPU).
    """
    directions = resolve_directions(models)
    return {label: direction.topk(k, part).cpu().sort().values for label, direction in directions.items()}


def topk_sets(models: Directions, k: int | float, part: str = "decoder-weight") -> dict[str, set[int]]:
    """
    The `k` most important coordinates of each direction as sets of base-global coordinates.

    Base-global means index `i` is element `i` of the concatenated, flattened selected base parameters, whatever the
    direction kept after pruning: differently pruned directions of one base model compare directly. Directions of
    different base models (or parameter selections) are refused.

    Args:
        models (`list` or `dict`): Directions, trainers or paths / Hub ids; see [`resolve_directions`] for labels.
        k (`int` or `float`): A count, or a fraction in (0, 1) of *each direction's* kept coordinates. A direction
            that keeps fewer than `k` coordinates contributes all of them.
        part (`str`, *optional*, defaults to `"decoder-weight"`): Importance used to rank coordinates:
            `"encoder-weight"`, `"decoder-weight"`, `"decoder-bias"` or `"decoder-sum"` (see
            [`GradiendModel.importance`]).

    Returns:
        `dict[str, set[int]]`: label → coordinates, in input order.

    Example:

    ```python
    >>> from hf_gradiend.compare import topk_sets
    >>> sets = topk_sets(["runs/3sg_3pl", "runs/1sg_1pl"], k=1000)
    >>> len(sets["3SG/3PL"] & sets["1SG/1PL"])
    118
    ```
    """
    return {label: set(coords.tolist()) for label, coords in topk_coordinates(models, k, part).items()}
