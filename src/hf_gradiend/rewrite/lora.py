"""Export a GRADIEND adapter as a LoRA adapter, for serving stacks that only load LoRA."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from peft import LoraConfig
from peft.tuners.lora.conversion import convert_to_lora
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors.torch import save_file
from torch import nn
from transformers.pytorch_utils import Conv1D

from .layer import GradiendLayer
from .output import atomic_directory

_PEFT_PREFIX = "base_model.model."


@dataclass
class LoraExport:
    """
    Result of [`export_lora`].

    Args:
        config (`peft.LoraConfig`): The LoRA configuration (`lora_alpha == r`, so the scaling is 1).
        state_dict (`dict[str, torch.Tensor]`): `lora_A`/`lora_B` weights, keyed like a saved peft LoRA adapter.
        rank (`int` or `float`): The rank asked for (a float is an energy threshold, see `peft.convert_to_lora`).
        errors (`dict[str, float]`): Per converted parameter, `‖ΔW − B·A‖_F / ‖ΔW‖_F` at that rank.
        error (`float`): The same over all converted parameters together.
        skipped (`list[str]`): Covered parameters a LoRA cannot carry (biases, norms, embeddings, tied copies); their
            deltas are not in the export.
        path (`str`, *optional*): Where the LoRA adapter was saved.
    """

    config: LoraConfig
    state_dict: dict[str, torch.Tensor]
    rank: int | float
    errors: dict[str, float]
    error: float
    skipped: list[str] = field(default_factory=list)
    path: str | None = None


@torch.no_grad()
def export_lora(
    model: nn.Module,
    rank: int | float,
    output_dir: str | os.PathLike | None = None,
    adapter_name: str = "default",
    skip_unsupported: bool = False,
) -> LoraExport:
    """
    Convert a GRADIEND adapter into a LoRA adapter with `peft.convert_to_lora` (truncated SVD of each weight delta).

    LoRA edits weight matrices of `nn.Linear` / `Conv1D` layers only. At full rank (`rank=1.0`, or `rank` ≥ a
    matrix's smaller side) the conversion is exact up to float rounding; at lower ranks the returned `errors` say how
    much of each delta is lost.

    Args:
        model (`PeftModel`): A model with the GRADIEND adapter `adapter_name` (not merged).
        rank (`int` or `float`): LoRA rank, or a float in (0, 1] picking per layer the smallest rank that keeps that
            share of the delta's energy (1.0 = exact).
        output_dir (`str`, *optional*): Save `adapter_config.json` + `adapter_model.safetensors` here (loadable with
            `PeftModel.from_pretrained(base, output_dir)` without hf_gradiend).
        adapter_name (`str`, *optional*, defaults to `"default"`): The GRADIEND adapter to convert.
        skip_unsupported (`bool`, *optional*, defaults to `False`): Leave out deltas LoRA cannot carry instead of
            raising; they are listed in `LoraExport.skipped`.

    Returns:
        [`LoraExport`].

    Raises:
        `ValueError`: The adapter is unknown or merged, it covers parameters LoRA cannot carry (without
            `skip_unsupported`), it covers none it can, or `rank` is invalid. Nothing is written then.

    Example:

    ```python
    >>> export = export_lora(peft_model, rank=16, output_dir="rewrite-lora")
    >>> export.error                      # relative Frobenius error of the rank-16 approximation
    ```
    """
    convertible, skipped = _convertible_layers(model, adapter_name, skip_unsupported)
    entries = {_PEFT_PREFIX + name.removeprefix(_PEFT_PREFIX): layer for name, layer in convertible.items()}
    view = _LoraView(entries, adapter_name)
    lora_config, state_dict = convert_to_lora(view, rank=rank, adapter_name=adapter_name)
    # convert_to_lora leaves target_modules empty when it starts from no LoRA config; name the converted modules.
    lora_config.target_modules = {key.removeprefix(_PEFT_PREFIX) for key in view.entries}
    lora_config.fan_in_fan_out = all(isinstance(m.get_base_layer(), Conv1D) for m in view.entries.values())
    source = getattr(model, "peft_config", {}).get(adapter_name)
    lora_config.base_model_name_or_path = getattr(source, "base_model_name_or_path", None)
    lora_config.revision = getattr(source, "revision", None)
    errors, error = _approximation_errors(view, state_dict, adapter_name)
    export = LoraExport(
        config=lora_config, state_dict=state_dict, rank=rank, errors=errors, error=error, skipped=skipped
    )
    if output_dir is not None:
        export.path = _save_lora(export, Path(output_dir))
    return export


def _convertible_layers(
    model: nn.Module, adapter_name: str, skip_unsupported: bool
) -> tuple[dict[str, GradiendLayer], list[str]]:
    """
    The layers whose delta of adapter `adapter_name` a LoRA can carry (an unshared `nn.Linear`/`Conv1D` weight), and
    the covered parameters it cannot (`"<module>.<attr>"`); `ValueError` unless the export can go ahead.
    """
    layers = {name: m for name, m in model.named_modules() if isinstance(m, GradiendLayer)}
    holding = {name: m for name, m in layers.items() if adapter_name in m.held_adapters()}
    if not holding:
        raise ValueError(f"The model has no GRADIEND adapter {adapter_name!r}; pass adapter_name= of one it has.")
    merged = [name for name, m in holding.items() if adapter_name in m.merged_adapters]
    if merged:
        raise ValueError(f"Adapter {adapter_name!r} is merged (e.g. in {merged[0]!r}); unmerge it before export_lora.")
    convertible, skipped = {}, []
    for name, layer in holding.items():
        for attr in layer.covered_parameters(adapter_name):
            lora_ready = (
                attr == "weight"
                and adapter_name in layer.gradiend_layout
                and attr not in layer.gradiend_tied.get(adapter_name, {})
                and isinstance(layer.get_base_layer(), (nn.Linear, Conv1D))
            )
            if lora_ready:
                convertible[name] = layer
            else:
                skipped.append(f"{name.removeprefix(_PEFT_PREFIX)}.{attr}")
    if skipped and not skip_unsupported:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        raise ValueError(
            f"LoRA carries only nn.Linear/Conv1D weight matrices, but the adapter also edits {shown}. Pass "
            "skip_unsupported=True to export the rest and leave these out, or use merge_and_unload() for an exact "
            "rewritten model."
        )
    if not convertible:
        raise ValueError("The adapter edits no nn.Linear/Conv1D weight matrix; there is nothing to express as LoRA.")
    return convertible, skipped


def _approximation_errors(
    view: _LoraView, state_dict: dict[str, torch.Tensor], adapter_name: str
) -> tuple[dict[str, float], float]:
    """Per converted weight and overall, the relative Frobenius error `‖ΔW − B·A‖ / ‖ΔW‖` of the LoRA weights."""
    errors, lost, total = {}, 0.0, 0.0
    for key, layer in view.entries.items():
        delta = layer.get_delta_weight(adapter_name).float()
        lora_a, lora_b = state_dict[f"{key}.lora_A.weight"].float(), state_dict[f"{key}.lora_B.weight"].float()
        approx = lora_b @ lora_a
        if isinstance(layer.get_base_layer(), Conv1D):
            approx = approx.T
        residual, norm = float(torch.linalg.norm(delta - approx)), float(torch.linalg.norm(delta))
        errors[f"{key.removeprefix(_PEFT_PREFIX)}.weight"] = residual / norm if norm > 0 else 0.0
        lost, total = lost + residual**2, total + norm**2
    return errors, math.sqrt(lost / total) if total > 0 else 0.0


def _save_lora(export: LoraExport, output_dir: Path) -> str:
    """Write the LoRA adapter like `peft.save_as_lora`, whole or not at all."""
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise ValueError(f"output_dir={str(output_dir)!r} is not an empty folder; choose a new one for the LoRA.")
    with atomic_directory(output_dir) as staging:
        save_file({k: v.contiguous() for k, v in export.state_dict.items()}, staging / "adapter_model.safetensors")
        export.config.save_pretrained(str(staging))
    return str(output_dir)


class _LoraView(nn.Module):
    """The convertible layers under their peft names, as `peft.convert_to_lora` walks them."""

    def __init__(self, entries: dict[str, GradiendLayer], adapter_name: str):
        super().__init__()
        self.entries = entries
        for name, layer in entries.items():
            parent = self
            *path, leaf = name.split(".")
            for part in path:
                if part not in parent._modules:
                    parent.add_module(part, nn.Module())
                parent = parent._modules[part]
            parent.add_module(leaf, _WeightDelta(layer, adapter_name))


class _WeightDelta(nn.Module, BaseTunerLayer):
    """Presents one layer's weight delta to `convert_to_lora` (the layer itself is not registered as a child)."""

    def __init__(self, layer: GradiendLayer, adapter_name: str):
        super().__init__()
        self._source = (layer, adapter_name)

    def get_base_layer(self) -> nn.Module:
        return self._source[0].get_base_layer()

    def get_delta_weight(self, adapter_name: str) -> torch.Tensor:
        return self._source[0].get_delta_weight(adapter_name, "weight")

    def supports_lora_conversion(self, adapter_name: str = "default") -> bool:
        return True
