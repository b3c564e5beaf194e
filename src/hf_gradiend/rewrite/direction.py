"""From a trained direction to the configuration of its rewrite adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..errors import LatentDimError
from ..gradients.selection import ParameterSelection
from .config import GradiendAdapterConfig

if TYPE_CHECKING:
    from ..modeling_gradiend import GradiendModel

_DIRECTION_ATTRIBUTES = ("config", "decoder", "kept_coordinates")


def adapter_config_from_direction(
    direction: GradiendModel, alpha: float, feature_value: float, **config_kwargs: Any
) -> GradiendAdapterConfig:
    """
    The [`GradiendAdapterConfig`] that rewrites a base model as `θ + alpha · dec(feature_value)` with `direction`.

    The config carries the decoder values of the covered coordinates (per parameter; only the kept coordinates of a
    pruned direction) for `peft.get_peft_model` to copy into the adapter, and records the layout, α and h in JSON.

    The direction is read through what a [`GradiendModel`] offers (`config`, `decoder`, `kept_coordinates`), so this
    module never imports the model class.

    Args:
        direction ([`GradiendModel`]): A direction with a parameter map and `latent_dim=1`.
        alpha (`float`): Step size α (the decoder evaluation's `learning_rate`).
        feature_value (`float`): Feature value h (+1 the first class, -1 the second, 0 the decoder bias alone).
        config_kwargs: Further [`GradiendAdapterConfig`] / `PeftConfig` fields (e.g. `inference_mode=False` to train
            the adapter values further, `task_type`).

    Returns:
        [`GradiendAdapterConfig`] (with `inference_mode=True` unless given).

    Example:

    ```python
    >>> from peft import get_peft_model
    >>> from hf_gradiend.rewrite import adapter_config_from_direction
    >>> config = adapter_config_from_direction(direction, alpha=0.05, feature_value=-1.0)
    >>> rewritten = get_peft_model(base_model, config).merge_and_unload()
    ```
    """
    if not all(hasattr(direction, name) for name in _DIRECTION_ATTRIBUTES):
        raise TypeError(f"direction must be a GradiendModel, not {type(direction).__name__}.")
    if direction.config.latent_dim != 1:
        raise LatentDimError(
            "A rewrite adapter reads h as one number, but this direction has "
            f"latent_dim={direction.config.latent_dim}."
        )
    selection = _selection(direction.config)
    if selection is None:
        raise ValueError(
            "This direction records no parameter map (config.param_names), so it cannot rewrite a base model. Create "
            "it with GradiendModel.for_base_model(...) or a GradiendTrainer."
        )
    weight = direction.decoder.weight.detach()[:, 0]
    bias = direction.decoder.bias.detach() if direction.decoder.bias is not None else None
    if direction.config.pruned:
        weights, counts = _sparse_pieces(selection, direction.kept_coordinates, weight, bias)
    else:
        bias_pieces = torch.split(bias, selection.numels) if bias is not None else [None] * len(selection.names)
        weights = {
            name: {"index": None, "w": w, "b": b}
            for name, w, b in zip(selection.names, torch.split(weight, selection.numels), bias_pieces, strict=True)
        }
        counts = None
    config = direction.config
    options = {
        "base_model_name_or_path": config.base_model_name_or_path,
        "revision": config.base_model_revision,
        "inference_mode": True,
        "direction_name_or_path": getattr(config, "_name_or_path", None) or None,
        **config_kwargs,
    }
    return GradiendAdapterConfig(
        param_names=list(selection.names),
        param_shapes=[list(s) for s in selection.shapes],
        param_fingerprint=selection.fingerprint,
        coordinate_counts=counts,
        alpha=alpha,
        feature_value=feature_value,
        activation_decoder=config.activation_decoder,
        decoder_bias=bias is not None,
        feature_classes=config.feature_classes,
        direction_weights=weights,
        **options,
    )


def _selection(config: Any) -> ParameterSelection | None:
    """The covered parameters recorded in a direction's config, or `None` when it records no parameter map."""
    if not config.param_names:
        return None
    return ParameterSelection(tuple(config.param_names), tuple(tuple(s) for s in config.param_shapes))


def _sparse_pieces(
    selection: ParameterSelection, kept_coordinates: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[dict[str, dict[str, torch.Tensor | None]], list[int]]:
    """Split the kept coordinates by parameter: flat indices inside each parameter (ascending) and their values."""
    coordinates = kept_coordinates.detach().long().cpu()
    if coordinates.numel() and (coordinates.min() < 0 or coordinates.max() >= selection.num_coordinates):
        raise ValueError(
            f"The direction's coordinates must lie in [0, {selection.num_coordinates}); its `coordinates` buffer is "
            "inconsistent with its parameter map."
        )
    ordered, order = torch.sort(coordinates)
    if ordered.numel() > 1 and bool((ordered[1:] == ordered[:-1]).any()):
        duplicate = int(ordered[1:][ordered[1:] == ordered[:-1]][0])
        raise ValueError(f"The direction keeps coordinate {duplicate} twice; kept coordinates must be unique.")
    order = order.to(weight.device)
    weight = weight[order]
    bias = bias[order] if bias is not None else None
    offsets = torch.tensor(selection.offsets + [selection.num_coordinates])
    bounds = torch.searchsorted(ordered, offsets).tolist()
    pieces, counts = {}, []
    for i, name in enumerate(selection.names):
        start, end = bounds[i], bounds[i + 1]
        pieces[name] = {
            "index": ordered[start:end] - selection.offsets[i],
            "w": weight[start:end],
            "b": bias[start:end] if bias is not None else None,
        }
        counts.append(end - start)
    return pieces, counts
