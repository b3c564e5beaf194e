"""Configuration of a GRADIEND adapter: which base parameters it edits, and the scalars α and h."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from peft import PeftConfig

from ..configuration_gradiend import ACTIVATIONS
from ..gradients.selection import ParameterSelection
from .registration import GradiendPeftType


@dataclass
class GradiendAdapterConfig(PeftConfig):
    r"""
    Configuration of a GRADIEND adapter ([`GradiendAdapterModel`]): the rewrite `θ' = θ + α · dec(h)` of a direction,
    applied with peft.

    Each covered base parameter gets `alpha * act(h * w_d + b_d)` added at its covered coordinates, where `w_d` and
    `b_d` are the direction's decoder weight and bias there. The tensors live in `adapter_model.safetensors` (only the
    covered coordinates, never dense full-size matrices); this JSON config records the layout. Build it from a trained
    direction with [`adapter_config_from_direction`] rather than by hand.

    Args:
        param_names (`list[str]`):
            The covered base parameters, as in `model.named_parameters()` (e.g. `"model.layers.0.mlp.up_proj.weight"`,
            `"transformer.h.0.attn.c_attn.bias"`), in the direction's coordinate order.
        param_shapes (`list[list[int]]`):
            Their shapes; a base model whose parameters differ is refused.
        param_fingerprint (`str`, *optional*):
            Fingerprint of names and shapes (see [`ParameterSelection.fingerprint`]), checked against both.
        coordinate_counts (`list[int]`, *optional*):
            For a pruned direction, how many coordinates of each covered parameter are kept; `None` means all of them.
        alpha (`float`, *optional*, defaults to 1.0):
            Step size α of the rewrite (the decoder evaluation's `learning_rate`).
        feature_value (`float`, *optional*, defaults to 1.0):
            Feature value h fed to the decoder: +1 the first feature class, -1 the second, 0 the decoder bias alone.
        activation_decoder (`str`, *optional*, defaults to `"id"`):
            The direction's decoder activation.
        decoder_bias (`bool`, *optional*, defaults to `True`):
            Whether the direction has a decoder bias `b_d`.
        feature_classes (`list[str]`, *optional*):
            The direction's two classes, +1 first (for model cards and users).
        direction_name_or_path (`str`, *optional*):
            Where the direction was loaded from, when known.
        direction_weights (`dict`, *optional*):
            Transient: the decoder values per covered parameter, read once when the adapter is created and never
            written to `adapter_config.json`. Without it a new adapter starts at zero (the base model), like a fresh
            LoRA, until its weights are loaded.

    Example:

    ```python
    >>> from peft import get_peft_model
    >>> from hf_gradiend.rewrite import adapter_config_from_direction
    >>> config = adapter_config_from_direction(direction, alpha=0.05, feature_value=-1.0)
    >>> model = get_peft_model(base_model, config)
    >>> model.save_pretrained("rewrite-adapter")        # adapter_config.json + adapter_model.safetensors
    >>> plain = model.merge_and_unload()                 # θ + α·dec(h), a plain transformers model
    ```
    """

    param_names: list[str] = field(default_factory=list, metadata={"help": "Covered base parameter names, in order."})
    param_shapes: list[list[int]] = field(default_factory=list, metadata={"help": "Shapes of the covered parameters."})
    param_fingerprint: str | None = field(
        default=None, metadata={"help": "Fingerprint of the covered names and shapes."}
    )
    coordinate_counts: list[int] | None = field(
        default=None, metadata={"help": "Kept coordinates per covered parameter (pruned direction); None = all."}
    )
    alpha: float = field(default=1.0, metadata={"help": "Step size α of the rewrite θ + α·dec(h)."})
    feature_value: float = field(default=1.0, metadata={"help": "Feature value h fed to the decoder."})
    activation_decoder: str = field(default="id", metadata={"help": "The direction's decoder activation."})
    decoder_bias: bool = field(default=True, metadata={"help": "Whether the direction has a decoder bias."})
    feature_classes: list[str] | None = field(
        default=None, metadata={"help": "The direction's two classes, the +1 class first."}
    )
    direction_name_or_path: str | None = field(
        default=None, metadata={"help": "Hub id or path of the direction, when known."}
    )
    direction_weights: dict[str, Any] | None = field(
        default=None,
        repr=False,
        compare=False,
        metadata={"help": "Transient initial values per covered parameter; never saved to adapter_config.json."},
    )

    # peft reads `target_modules` directly in a few places; GRADIEND targets the parameters of `param_names` instead.
    # A plain class attribute (not a dataclass field), so it is never serialised.
    target_modules = None

    def __post_init__(self):
        super().__post_init__()
        self.peft_type = GradiendPeftType.GRADIEND
        self.param_names = list(self.param_names)
        self.param_shapes = [[int(d) for d in s] for s in self.param_shapes]
        if not self.param_names:
            raise ValueError(
                "GradiendAdapterConfig needs param_names (the covered base parameters). Build the config from a "
                "direction with adapter_config_from_direction(direction, alpha=..., feature_value=...)."
            )
        if len(self.param_shapes) != len(self.param_names):
            raise ValueError(
                f"{len(self.param_names)} param_names but {len(self.param_shapes)} param_shapes; give one shape per "
                "covered parameter."
            )
        fingerprint = self.selection.fingerprint
        if self.param_fingerprint is not None and self.param_fingerprint != fingerprint:
            raise ValueError(
                f"param_fingerprint={self.param_fingerprint!r} does not match the recorded names and shapes "
                f"({fingerprint!r}); the adapter config was edited or belongs to another direction."
            )
        self.param_fingerprint = fingerprint
        if self.coordinate_counts is not None:
            self.coordinate_counts = [int(c) for c in self.coordinate_counts]
            numels = self.selection.numels
            if len(self.coordinate_counts) != len(numels) or any(
                not 0 <= c <= n for c, n in zip(self.coordinate_counts, numels, strict=True)
            ):
                raise ValueError(
                    f"coordinate_counts={self.coordinate_counts} must give, for each of the {len(numels)} covered "
                    "parameters, a count between 0 and its number of elements."
                )
        self.alpha = finite_number("alpha", self.alpha)
        self.feature_value = finite_number("feature_value", self.feature_value)
        if self.activation_decoder not in ACTIVATIONS:
            raise ValueError(
                f"activation_decoder={self.activation_decoder!r} is not supported; choose one of "
                f"{', '.join(ACTIVATIONS)}."
            )

    @property
    def selection(self) -> ParameterSelection:
        """The covered parameters as a [`ParameterSelection`]."""
        return ParameterSelection(tuple(self.param_names), tuple(tuple(s) for s in self.param_shapes))

    @property
    def pruned(self) -> bool:
        """Whether only some coordinates of the covered parameters are edited."""
        return self.coordinate_counts is not None

    def to_dict(self) -> dict:
        """The JSON-serialisable fields (without the transient `direction_weights`)."""
        weights, self.direction_weights = self.direction_weights, None
        try:
            output = super().to_dict()
        finally:
            self.direction_weights = weights
        output.pop("direction_weights", None)
        return output


def finite_number(name: str, value: Any) -> float:
    """`value` as a float; `ValueError` naming `name` unless it is a finite number (booleans refused)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"{name}={value!r} must be a finite number.")
    return number
