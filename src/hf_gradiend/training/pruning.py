"""Pre-pruning (before training, from gradient magnitudes) and post-pruning (after training, from the decoder)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch
from datasets import Dataset
from tqdm.auto import tqdm

from ..configuration_gradiend import GRADIENT_KINDS
from ..gradients.engine import GradientEngine
from ..modeling_gradiend import IMPORTANCE_PARTS, resolve_count


@dataclass
class PrePruneConfig:
    """
    Keep only the coordinates whose gradients are largest before training; the full-size direction is never built.

    Args:
        n_samples (`int`, *optional*, defaults to 16): Texts whose per-text gradients are averaged (balanced over the
            two classes).
        topk (`int` or `float`, *optional*, defaults to 0.01): Coordinates to keep: a count or a fraction.
        source (`str`, *optional*, defaults to `"diff"`): Gradient kind whose mean |value| ranks the coordinates.
    """

    n_samples: int = 16
    topk: int | float = 0.01
    source: str = "diff"

    def __post_init__(self):
        if self.source not in GRADIENT_KINDS:
            raise ValueError(f"PrePruneConfig.source={self.source!r} must be one of {', '.join(GRADIENT_KINDS)}.")
        if self.n_samples < 1:
            raise ValueError(f"PrePruneConfig.n_samples={self.n_samples} must be at least 1.")
        resolve_count(self.topk, 10**12)


@dataclass
class PostPruneConfig:
    """
    After training, keep the `topk` most important coordinates and shrink the direction physically.

    Args:
        topk (`int` or `float`): A count or a fraction of the kept coordinates.
        part (`str`, *optional*, defaults to `"decoder-weight"`): Importance used to rank (see
            [`GradiendModel.importance`]).
        rescale_encoder (`bool`, *optional*, defaults to `True`): Fit one scale of the pruned encoder's weights so
            its pre-activations match the unpruned encoder's on the validation rows' gradients (the training rows'
            without validation rows; see [`GradiendModel.rescale_encoder_`]). Pruning drops most of the encoder's
            input and pulls `h` towards 0; the scale restores the ±1 encodings. The decoder is never changed.
    """

    topk: int | float = 0.1
    part: str = "decoder-weight"
    rescale_encoder: bool = True

    def __post_init__(self):
        if self.part not in IMPORTANCE_PARTS:
            raise ValueError(f"PostPruneConfig.part={self.part!r} must be one of {', '.join(IMPORTANCE_PARTS)}.")
        resolve_count(self.topk, 10**12)


def as_config(value: Any, cls: type) -> Any:
    """Accept a config instance, a dict of its fields, or `None`."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return cls(**value)
    raise TypeError(f"Expected {cls.__name__}, a dict of its fields, or None; got {type(value).__name__}.")


@torch.no_grad()
def pre_prune_coordinates(
    engine: GradientEngine, rows: Dataset, feature_classes: list[str], config: PrePruneConfig, seed: int = 0
) -> torch.Tensor:
    """
    Base-global coordinates with the largest mean |gradient| (of `config.source`) over `config.n_samples` texts,
    sorted ascending.
    """
    rng = random.Random(seed)
    by_class = {c: [i for i, v in enumerate(rows["factual_class"]) if v == c] for c in feature_classes}
    chosen = []
    for j, c in enumerate(feature_classes):
        share = config.n_samples // len(feature_classes) + (j < config.n_samples % len(feature_classes))
        chosen += rng.sample(by_class[c], min(share, len(by_class[c])))
    total = torch.zeros(engine.selection.num_coordinates, device=engine.device)
    for i in tqdm(chosen, desc="Pre-pruning", disable=len(chosen) < 8):
        row = rows[i]
        engine.add_abs_gradient_(total, row["masked"], row["factual"], row["alternative"], kind=config.source)
    count = resolve_count(config.topk, total.numel())
    return torch.topk(total, count).indices.sort().values.cpu()
