"""Model cards (README.md) for saved directions, rewrite adapters and rewritten models.

The templates are the package data `hf_gradiend/model_cards/*.md`. The functions take configurations (a
[`GradiendConfig`] for a direction, a [`GradiendAdapterConfig`] for a rewrite), never model classes, so this module
sits at the bottom of the package and imports nothing of it at run time.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import ModelCard, ModelCardData

if TYPE_CHECKING:
    from .configuration_gradiend import GradiendConfig
    from .rewrite.config import GradiendAdapterConfig

TEMPLATES = ("direction", "rewritten_model", "adapter")
_SHOWN_PARAMETERS = 20
_OBJECTIVES = {"masked_lm": "masked language modelling", "causal_lm": "causal language modelling"}


def template_path(name: str) -> Path:
    """
    Path of the model-card template `name` (`"direction"`, `"rewritten_model"` or `"adapter"`).

    The templates are package data in `hf_gradiend/model_cards/`.
    """
    if name not in TEMPLATES:
        raise ValueError(f"Unknown model-card template {name!r}; choose one of {', '.join(TEMPLATES)}.")
    path = Path(__file__).resolve().parent / "model_cards" / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(
            f"The model-card template {name}.md is missing from {path.parent}; reinstall hf-gradiend."
        )
    return path


# ------------------------------------------------------------------------------------------------------- direction
def direction_card(
    config: GradiendConfig, repo_id: str | None = None, metrics: Mapping[str, Any] | None = None
) -> ModelCard:
    """
    The model card of a saved direction: what it was learned on, its classes and parameter map, and how to use it.

    Args:
        config ([`GradiendConfig`]): The direction's configuration (`direction.config`).
        repo_id (`str`, *optional*): Hub id (or path) it is published under, used in the usage snippet.
        metrics (`Mapping[str, float]`, *optional*): Evaluation results to list (e.g. `{"eval_correlation": 0.93}`).

    Returns:
        `huggingface_hub.ModelCard`.
    """
    classes = config.feature_classes or [None, None]
    names = list(config.param_names or [])
    total = _num_coordinates(config.param_shapes) if names else config.input_dim
    kept = config.input_dim
    base = config.base_model_name_or_path
    title = "GRADIEND direction" + (f": {classes[0]} vs. {classes[1]}" if classes[0] else "")
    card_data = ModelCardData(
        library_name="transformers", base_model=_hub_id(base), tags=["gradiend", "feature-direction"]
    )
    return _render(
        "direction",
        card_data,
        title=title,
        base_model_md=_base_md(base),
        base_model_id=base or "path/to/base-model",
        revision=config.base_model_revision,
        architecture_md=_code(config.base_model_architecture),
        positive_md=_code(classes[0], "the first class"),
        negative_md=_code(classes[1], "the second class"),
        objective_md=_OBJECTIVES.get(config.objective, "not recorded"),
        activation_encoder=config.activation_encoder,
        source=config.source,
        target=config.target,
        num_parameters=len(names),
        num_coordinates=f"{total:,}",
        fingerprint=config.param_fingerprint or "not recorded",
        kept_md=f"{kept:,} of {total:,} ({kept / total:.2%}, pruned)" if config.pruned else "all",
        metrics=[(str(k), _number(v)) for k, v in (metrics or {}).items()],
        parameter_names=names[:_SHOWN_PARAMETERS],
        more_parameters=max(0, len(names) - _SHOWN_PARAMETERS),
        repo_id=repo_id or "path/to/this/direction",
        auto_class=_auto_class(config.base_model_architecture),
    )


def write_direction_card(
    config: GradiendConfig,
    save_directory: str | os.PathLike,
    repo_id: str | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """
    Write the direction's card as `README.md` in `save_directory` (`GradiendModel.save_pretrained` calls it).

    Args:
        config ([`GradiendConfig`]): The direction's configuration (`direction.config`).
        save_directory (`str` or `os.PathLike`): The folder the direction was saved to.
        repo_id (`str`, *optional*): Hub id (or path) it is published under, used in the usage snippet.
        metrics (`Mapping[str, float]`, *optional*): Evaluation results to list.

    Returns:
        `Path` of the written `README.md`.

    Example:

    ```python
    >>> direction.save_pretrained("my-direction")
    >>> write_direction_card(direction.config, "my-direction", repo_id="me/my-direction")
    ```
    """
    path = Path(save_directory) / "README.md"
    direction_card(config, repo_id=repo_id, metrics=metrics).save(path)
    return path


# ------------------------------------------------------------------------------------------------ rewrite results
def rewritten_model_card(
    config: GradiendAdapterConfig,
    architecture: str,
    target_class: str | None = None,
    increase: bool = True,
    metrics: Mapping[str, Any] | None = None,
    repo_id: str | None = None,
    has_adapter: bool = False,
) -> ModelCard:
    """
    The model card of a rewritten model (the adapter of `config` merged into its base).

    Args:
        config ([`GradiendAdapterConfig`]): The rewrite (α, h, covered parameters, base model, direction).
        architecture (`str`): Class name of the rewritten model, e.g. `"LlamaForCausalLM"`.
        target_class (`str`, *optional*): The class the rewrite strengthens (or weakens, with `increase=False`).
        increase (`bool`, *optional*, defaults to `True`): Strengthen (`True`) or weaken the target class.
        metrics (`Mapping`, *optional*): A decoder-evaluation entry with `lms`, `base_lms`, `target_probability`,
            `base_target_probability` (and optionally `other_probability`, `base_other_probability`, `measured_on`).
        repo_id (`str`, *optional*): Hub id (or path) of the rewritten model, used in the usage snippet.
        has_adapter (`bool`, *optional*): Whether the folder also holds the adapter in `adapter/`.
    """
    auto_class = _auto_class(architecture)
    base = config.base_model_name_or_path
    effect = "strengthen" if increase else "weaken"
    rows = _metric_rows(metrics or {}, target_class)
    measured_on = (metrics or {}).get("measured_on")
    card_data = ModelCardData(
        library_name="transformers",
        base_model=_hub_id(base),
        tags=["gradiend", "model-rewrite"],
        pipeline_tag=_pipeline(auto_class),
    )
    return _render(
        "rewritten_model",
        card_data,
        title=f"{_short(base) or architecture}, GRADIEND-rewritten to {effect} {target_class or 'a feature class'}",
        base_model_md=_base_md(base),
        base_model_id=base or "path/to/base-model",
        revision=config.revision,
        effect=effect,
        target_md=_code(target_class, "the chosen class"),
        classes_md=_classes_md(config.feature_classes),
        alpha=repr(config.alpha),
        feature_value=repr(config.feature_value),
        num_parameters=len(config.param_names),
        kept_coordinates=f"{_kept(config):,}",
        has_metrics=bool(rows),
        metric_rows=rows,
        measured_on=measured_on,
        measured_on_md=_code(measured_on),
        repo_id=repo_id or "path/to/this/model",
        auto_class=auto_class,
        direction_md=_code(config.direction_name_or_path, "trained in memory (not saved)"),
        direction_id=config.direction_name_or_path or "path/to/direction",
        fingerprint=config.param_fingerprint,
        has_adapter=has_adapter,
    )


def adapter_card(
    config: GradiendAdapterConfig, architecture: str, repo_id: str | None = None, subfolder: str | None = None
) -> ModelCard:
    """
    The model card of a saved GRADIEND adapter (`adapter_config.json` + `adapter_model.safetensors`).

    Args:
        config ([`GradiendAdapterConfig`]): The adapter's configuration.
        architecture (`str`): Class name of the base model, e.g. `"GPT2LMHeadModel"`.
        repo_id (`str`, *optional*): Hub id (or path) of the repository, for the usage snippet.
        subfolder (`str`, *optional*): Folder of the adapter inside that repository.
    """
    auto_class = _auto_class(architecture)
    base = config.base_model_name_or_path
    card_data = ModelCardData(library_name="peft", base_model=_hub_id(base), tags=["gradiend", "model-rewrite"])
    return _render(
        "adapter",
        card_data,
        title=f"GRADIEND rewrite adapter for {_short(base) or architecture}",
        base_model_md=_base_md(base),
        base_model_id=base or "path/to/base-model",
        revision=config.revision,
        alpha=repr(config.alpha),
        feature_value=repr(config.feature_value),
        num_parameters=len(config.param_names),
        kept_coordinates=f"{_kept(config):,}",
        classes_md=_classes_md(config.feature_classes),
        repo_id=repo_id or "path/to/this/adapter",
        subfolder=subfolder,
        auto_class=auto_class,
    )


# ------------------------------------------------------------------------------------------------------- helpers
def _render(template: str, card_data: ModelCardData, **values: Any) -> ModelCard:
    return ModelCard.from_template(card_data, template_path=str(template_path(template)), **values)


def _hub_id(name: str | None) -> str | None:
    """`name` when it looks like a Hub model id (and is not a local folder), else `None`."""
    if not name or os.path.exists(name) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
        return None
    return name


def _base_md(name: str | None) -> str:
    if _hub_id(name):
        return f"[`{name}`](https://huggingface.co/{name})"
    return f"`{name}`" if name else "an unnamed base model"


def _short(name: str | None) -> str | None:
    return name.rstrip("/").rsplit("/", 1)[-1] if name else None


def _code(value: Any, missing: str = "not recorded") -> str:
    return f"`{value}`" if value not in (None, "") else missing


def _classes_md(classes: list[str] | None) -> str:
    return f"`{classes[0]}` (+1), `{classes[1]}` (-1)" if classes else "not recorded"


def _num_coordinates(shapes: list[list[int]] | None) -> int:
    """Number of elements of all parameters of `shapes` (the length of the direction's base-global coordinates)."""
    return sum(math.prod(shape) for shape in shapes or [])


def _kept(config: GradiendAdapterConfig) -> int:
    if config.coordinate_counts is not None:
        return sum(config.coordinate_counts)
    return _num_coordinates(config.param_shapes)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"


def _metric_rows(metrics: Mapping[str, Any], target_class: str | None) -> list[tuple[str, str, str]]:
    target = f"P({target_class})" if target_class else "target-class probability"
    rows = []
    for label, after, before in (
        ("Language-modelling score (LMS)", "lms", "base_lms"),
        (target, "target_probability", "base_target_probability"),
        ("Other-class probability", "other_probability", "base_other_probability"),
    ):
        if metrics.get(after) is not None and metrics.get(before) is not None:
            rows.append((label, _number(metrics[before]), _number(metrics[after])))
    return rows


def _auto_class(architecture: str | None) -> str:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    for auto_class, mapping in (
        ("AutoModelForCausalLM", MODEL_FOR_CAUSAL_LM_MAPPING_NAMES),
        ("AutoModelForMaskedLM", MODEL_FOR_MASKED_LM_MAPPING_NAMES),
    ):
        names = {n for v in mapping.values() for n in ((v,) if isinstance(v, str) else v)}
        if architecture in names:
            return auto_class
    return "AutoModel"


def _pipeline(auto_class: str) -> str | None:
    return {"AutoModelForCausalLM": "text-generation", "AutoModelForMaskedLM": "fill-mask"}.get(auto_class)
