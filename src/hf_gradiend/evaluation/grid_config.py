"""The options of the decoder grid search, written once: [`DecoderGridConfig`].

The grid function ([`evaluate_decoder_grid`]), the trainer method (`trainer.evaluate_decoder`) and the command line
(`hf-gradiend evaluate`, through `HfArgumentParser`) all read this one dataclass; its defaults and help texts are the
only ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .lms import DEFAULT_MASK_RATIO
from .policies import POLICIES, SelectionPolicy, resolve_policy

DEFAULT_LEARNING_RATES = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""The default α grid: 16 values, 1e-3 to 100 in 1-2-5 steps (each feature value's line starts at the middle one)."""

DEFAULT_FEATURE_VALUES = (1.0, 0.0, -1.0)
"""The default h values: each class's pole and 0 (the decoder bias alone, the "neutralising" direction)."""


@dataclass
class DecoderGridConfig:
    """
    How the decoder grid is searched and scored: the (α, h) values, the selection policy, early stopping, the
    language-modelling score's masking and the sampling of rows and texts.

    Which rewrite is chosen (`target_class`, `increase`) is an argument of the grid call, not part of this config.

    Args:
        learning_rates (`list[float]`, *optional*, defaults to [`DEFAULT_LEARNING_RATES`]): The α values (non-zero,
            finite); `None` means the default grid.
        feature_values (`list[float]`, *optional*, defaults to `[1.0, 0.0, -1.0]`): The h values.
        policy (`str`, *optional*, defaults to `"lms_threshold"`): A name in [`POLICIES`]: `"lms_threshold"` (the
            largest gain with LMS ≥ 0.99 × base LMS; fallback the smallest α with a warning) or `"lms_times_metric"`
            (argmax of metric × LMS). From Python a [`SelectionPolicy`] instance works too.
        early_stop (`bool`, *optional*, defaults to `True`): Start each line at its middle α, stop raising it once
            the policy says larger α cannot be chosen and lowering it once a point dominates the smaller ones (such
            points are listed as skipped with the reason). `False` scores every point.
        mask_ratio (`float`, *optional*, defaults to 0.15): Masked share of eligible tokens in the masked-LM LMS.
        case_variants (`bool`, *optional*, defaults to `True`): Sum the probabilities of the class words' case
            variants.
        max_size (`int`, *optional*): At most this many rows per class and this many neutral texts (seeded sample).
        batch_size (`int`, *optional*): Texts per forward pass; 16 for the grid function, the trainer's
            `per_device_eval_batch_size` for `trainer.evaluate_decoder`.
        seed (`int`, *optional*, defaults to 0): Seed of the LMS masks and of `max_size` sampling.

    Example:

    ```python
    >>> from hf_gradiend.evaluation import DecoderGridConfig
    >>> config = DecoderGridConfig(learning_rates=[0.01, 0.1, 1.0], policy="lms_times_metric")
    >>> results = trainer.evaluate_decoder(target_class="3PL", config=config)
    >>> results = trainer.evaluate_decoder(target_class="3PL", config=config, early_stop=False)  # one override
    ```
    """

    learning_rates: list[float] | None = field(
        default_factory=lambda: list(DEFAULT_LEARNING_RATES),
        metadata={"help": "Decoder: the α values (non-zero); 1e-3 to 100 in 1-2-5 steps by default."},
    )
    feature_values: list[float] = field(
        default_factory=lambda: list(DEFAULT_FEATURE_VALUES),
        metadata={"help": "Decoder: the h values (0 is the decoder bias alone)."},
    )
    policy: str = field(
        default="lms_threshold",
        metadata={"help": "Decoder: how the rewrite is chosen.", "choices": tuple(POLICIES)},
    )
    early_stop: bool = field(
        default=True,
        metadata={"help": "Decoder: skip the points the policy can tell cannot be chosen (listed with the reason)."},
    )
    mask_ratio: float = field(
        default=DEFAULT_MASK_RATIO, metadata={"help": "Decoder: masked share of tokens in the masked-LM LMS."}
    )
    case_variants: bool = field(
        default=True, metadata={"help": "Decoder: sum the probabilities of the class words' case variants."}
    )
    max_size: int | None = field(default=None, metadata={"help": "At most this many rows per class and texts."})
    batch_size: int | None = field(default=None, metadata={"help": "Texts per forward pass."})
    seed: int = field(default=0, metadata={"help": "Seed of sampling and of the LMS masks."})


GRID_OPTIONS = tuple(f.name for f in dataclasses.fields(DecoderGridConfig))
"""The names of the [`DecoderGridConfig`] fields: the keyword overrides the grid function and the trainer accept."""


def grid_config(config: DecoderGridConfig | None = None, **overrides: Any) -> DecoderGridConfig:
    """
    `config` (the defaults when `None`) with `overrides` (field name → value) applied; `config` is not changed.

    Raises:
        `TypeError`: `config` is not a [`DecoderGridConfig`], or an override is not one of its fields.

    Example:

    ```python
    >>> grid_config(None, learning_rates=[0.1], seed=3).seed
    3
    ```
    """
    if config is not None and not isinstance(config, DecoderGridConfig):
        raise TypeError(f"config must be a DecoderGridConfig, not {type(config).__name__}.")
    unknown = sorted(set(overrides) - set(GRID_OPTIONS))
    if unknown:
        raise TypeError(
            f"Unknown decoder grid option(s) {unknown}; the options are the DecoderGridConfig fields "
            f"{list(GRID_OPTIONS)}."
        )
    return dataclasses.replace(config if config is not None else DecoderGridConfig(), **overrides)


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


def check_config(config: DecoderGridConfig, batch_size: int) -> tuple[list[float], list[float], SelectionPolicy]:
    """
    Validate `config` before any scoring (with `batch_size` the one in use).

    Returns:
        `(learning rates, feature values, policy instance)`.
    """
    learning_rates, feature_values = check_grid(config.learning_rates, config.feature_values)
    policy = resolve_policy(config.policy)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1.")
    if config.max_size is not None and config.max_size < 1:
        raise ValueError(f"max_size={config.max_size} must be at least 1 (or None for all rows).")
    return learning_rates, feature_values, policy
