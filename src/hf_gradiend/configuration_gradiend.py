"""Configuration of a GRADIEND direction."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import torch
from torch.nn import functional as F
from transformers import PretrainedConfig

GRADIENT_KINDS = ("factual", "alternative", "diff")
OBJECTIVES = ("masked_lm", "causal_lm")


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "id": _identity,
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "silu": F.silu,
}
"""The encoder/decoder activations by name (`activation_encoder`, `activation_decoder`), shared by
[`GradiendModel`] and the GRADIEND adapter layer."""


class GradiendConfig(PretrainedConfig):
    r"""
    Configuration of a [`GradiendModel`]: a single-neuron encoder over base-model gradients and a linear decoder
    back to them, plus a record of what the direction was learned on.

    Args:
        input_dim (`int`):
            Number of gradient coordinates the encoder reads (after pruning, the kept coordinates only).
        latent_dim (`int`, *optional*, defaults to 1):
            Width of the encoding `h`. The method uses 1; operations that interpret `h` as a scalar refuse others.
        activation_encoder (`str`, *optional*, defaults to `"tanh"`):
            Activation after the encoder's linear map.
        activation_decoder (`str`, *optional*, defaults to `"id"`):
            Activation after the decoder's linear map.
        decoder_bias (`bool`, *optional*, defaults to `True`):
            Whether the decoder has a bias `b_d`.
        source (`str`, *optional*, defaults to `"alternative"`):
            Gradient the encoder reads: `"factual"`, `"alternative"` or `"diff"` (factual minus alternative).
        target (`str`, *optional*, defaults to `"diff"`):
            Gradient the decoder reconstructs, same choices as `source`.
        feature_classes (`list[str]`, *optional*):
            The two classes of the feature; the first is encoded as +1, the second as -1.
        objective (`str`, *optional*):
            `"masked_lm"` or `"causal_lm"`: how a text becomes a loss on the target word.
        base_model_name_or_path (`str`, *optional*):
            Hub id or local path of the base model the gradients came from.
        base_model_revision (`str`, *optional*):
            Revision (commit) of the base model when known.
        base_model_architecture (`str`, *optional*):
            Class name of the base model, e.g. `"LlamaForCausalLM"`.
        param_names (`list[str]`, *optional*):
            Names of the selected base parameters, in the order their gradients are concatenated.
        param_shapes (`list[list[int]]`, *optional*):
            Shapes of the selected base parameters.
        param_fingerprint (`str`, *optional*):
            Hash of the selected names and shapes; a base model with another fingerprint is refused.
        pruned (`bool`, *optional*, defaults to `False`):
            Whether only some coordinates are kept. Their base-global indices live in `model.safetensors` (buffer
            `coordinates`), never in this JSON file.

    Example:

    ```python
    >>> from hf_gradiend import GradiendConfig, GradiendModel
    >>> config = GradiendConfig(input_dim=1024, feature_classes=["3SG", "3PL"])
    >>> model = GradiendModel(config)
    ```
    """

    model_type = "gradiend"

    def __init__(
        self,
        input_dim: int = 1,
        latent_dim: int = 1,
        activation_encoder: str = "tanh",
        activation_decoder: str = "id",
        decoder_bias: bool = True,
        source: str = "alternative",
        target: str = "diff",
        feature_classes: list[str] | None = None,
        objective: str | None = None,
        base_model_name_or_path: str | None = None,
        base_model_revision: str | None = None,
        base_model_architecture: str | None = None,
        param_names: list[str] | None = None,
        param_shapes: list[list[int]] | None = None,
        param_fingerprint: str | None = None,
        pruned: bool = False,
        **kwargs: Any,
    ):
        _check_choice("source", source, GRADIENT_KINDS)
        _check_choice("target", target, GRADIENT_KINDS)
        _check_choice("activation_encoder", activation_encoder, ACTIVATIONS)
        _check_choice("activation_decoder", activation_decoder, ACTIVATIONS)
        if objective is not None:
            _check_choice("objective", objective, OBJECTIVES)
        if feature_classes is not None and (len(feature_classes) != 2 or feature_classes[0] == feature_classes[1]):
            raise ValueError(
                f"feature_classes={feature_classes!r} must name two different classes, the +1 class first, "
                "e.g. ['3SG', '3PL']."
            )
        if int(input_dim) < 1 or int(latent_dim) < 1:
            raise ValueError(f"input_dim={input_dim} and latent_dim={latent_dim} must both be at least 1.")
        self.input_dim = int(input_dim)
        self.latent_dim = int(latent_dim)
        self.activation_encoder = activation_encoder
        self.activation_decoder = activation_decoder
        self.decoder_bias = decoder_bias
        self.source = source
        self.target = target
        self.feature_classes = list(feature_classes) if feature_classes is not None else None
        self.objective = objective
        self.base_model_name_or_path = base_model_name_or_path
        self.base_model_revision = base_model_revision
        self.base_model_architecture = base_model_architecture
        self.param_names = list(param_names) if param_names is not None else None
        self.param_shapes = [list(s) for s in param_shapes] if param_shapes is not None else None
        self.param_fingerprint = param_fingerprint
        self.pruned = pruned
        super().__init__(**kwargs)

    @property
    def positive_class(self) -> str | None:
        """The class encoded as +1 (the first of `feature_classes`)."""
        return self.feature_classes[0] if self.feature_classes else None

    @property
    def negative_class(self) -> str | None:
        """The class encoded as -1 (the second of `feature_classes`)."""
        return self.feature_classes[1] if self.feature_classes else None


def _check_choice(name: str, value: Any, choices: Collection[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {', '.join(choices)}.")
