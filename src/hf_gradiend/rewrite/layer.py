"""The GRADIEND tuner layer: adds `α · act(h · w_d + b_d)` to the covered coordinates of a module's parameters."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from peft.tuners._buffer_dict import BufferDict
from peft.tuners.tuners_utils import BaseTunerLayer, check_adapters_to_merge
from torch import nn
from torch.nn import functional as F
from transformers.pytorch_utils import Conv1D

from ..configuration_gradiend import ACTIVATIONS


@dataclass(frozen=True)
class ParameterSlot:
    """
    One covered parameter of a wrapped module.

    Args:
        attr (`str`): Attribute name on the base module (`"weight"`, `"bias"`, ...).
        shape (`tuple[int, ...]`): The parameter's shape.
        start (`int`): First column of this parameter in the layer's packed values (and index).
        count (`int`): Columns of this parameter (all its elements when dense).
    """

    attr: str
    shape: tuple[int, ...]
    start: int
    count: int


@dataclass(frozen=True)
class AdapterLayout:
    """How one adapter's packed values map onto a module: its covered parameters, sparse or dense, and activation."""

    slots: tuple[ParameterSlot, ...]
    sparse: bool
    activation: str

    @property
    def width(self) -> int:
        return sum(s.count for s in self.slots)


class GradiendLayer(nn.Module, BaseTunerLayer):
    r"""
    Wraps any module that holds covered parameters (`nn.Linear`, GPT-2 `Conv1D`, `nn.Embedding`, LayerNorm/RMSNorm,
    ...) and edits those parameters — weights and biases alike.

    Per adapter it stores one packed parameter `gradiend_values` of shape `(2, k)` (rows `w_d` and `b_d`; one row
    without a decoder bias) over its `k` covered coordinates and, for a pruned direction, `gradiend_index` with each
    coordinate's flat position inside its parameter. The delta of a covered parameter is
    `alpha * act(h * w_d + b_d)` at those coordinates (zero elsewhere), computed exactly like
    [`GradiendModel.update_for`]. Active adapters' deltas add.

    `forward` runs the base module with `θ + Σ deltas` in place of its covered parameters (via
    `torch.func.functional_call`), or the base module alone when the adapters are disabled or merged.

    A tied copy (e.g. `lm_head` sharing `embed_tokens.weight`) stores nothing: it reads the owner layer's delta and
    leaves merging the shared tensor to the owner.
    """

    adapter_layer_names = ("gradiend_values",)
    other_param_names = (
        "gradiend_index", "gradiend_alpha", "gradiend_feature_value", "gradiend_layout", "gradiend_tied",
    )

    def __init__(self, base_layer: nn.Module, **kwargs) -> None:
        super().__init__()
        if isinstance(base_layer, BaseTunerLayer) and not isinstance(base_layer, GradiendLayer):
            raise TypeError(
                f"GRADIEND cannot wrap the {type(base_layer).__name__} layer of another peft method. Merge and unload "
                "that adapter first (model.merge_and_unload()), then add the GRADIEND adapter."
            )
        self.base_layer = base_layer
        self.gradiend_values = nn.ParameterDict({})
        self.gradiend_index = BufferDict({}, persistent=True)
        self.gradiend_alpha: dict[str, float] = {}
        self.gradiend_feature_value: dict[str, float] = {}
        self.gradiend_layout: dict[str, AdapterLayout] = {}
        self.gradiend_tied: dict[str, dict[str, str]] = {}
        # adapter -> {attr: (owner layer, owner attr)}; a plain dict so the owner is not registered as a child module
        self._tied_sources: dict[str, dict[str, tuple[GradiendLayer, str]]] = {}
        self._disable_adapters = False
        self.merged_adapters = []
        self.kwargs = kwargs

    # ------------------------------------------------------------------------------------------------------ set-up
    def update_layer(
        self,
        adapter_name: str,
        layout: AdapterLayout,
        values: torch.Tensor,
        index: torch.Tensor | None,
        alpha: float,
        feature_value: float,
        inference_mode: bool = False,
    ) -> None:
        """
        Add (or replace) the values of `adapter_name` on this module.

        Args:
            adapter_name (`str`): The adapter.
            layout ([`AdapterLayout`]): Which parameters the packed columns belong to.
            values (`torch.Tensor` of shape `(rows, layout.width)`): `w_d` (and `b_d`) at the covered coordinates, on
                the base module's device, kept in their own dtype (float32 for a new adapter to be loaded).
            index (`torch.Tensor` of shape `(layout.width,)`, *optional*): Flat position of each column inside its
                parameter; required when `layout.sparse`.
            alpha (`float`), feature_value (`float`): The scalars α and h.
            inference_mode (`bool`): Freeze the adapter values.
        """
        base = self.get_base_layer()
        for slot in layout.slots:
            parameter = getattr(base, slot.attr, None)
            if not isinstance(parameter, torch.Tensor) or tuple(parameter.shape) != slot.shape:
                raise ValueError(
                    f"{type(base).__name__} has no parameter {slot.attr!r} of shape {slot.shape} for adapter "
                    f"{adapter_name!r}."
                )
        if values.shape[-1] != layout.width or (layout.sparse and (index is None or index.numel() != layout.width)):
            raise ValueError(
                f"Adapter {adapter_name!r}: values/index do not match its layout of {layout.width} columns."
            )
        self.gradiend_values[adapter_name] = nn.Parameter(values, requires_grad=not inference_mode)
        if layout.sparse:
            self.gradiend_index[adapter_name] = index
        self.gradiend_layout[adapter_name] = layout
        self.gradiend_alpha[adapter_name] = float(alpha)
        self.gradiend_feature_value[adapter_name] = float(feature_value)
        # Not peft's _move_adapter_to_device_of_base_layer: it would round the values to a bf16/fp16 base's dtype.
        self.set_adapter(self.active_adapters, inference_mode=inference_mode)

    def update_tied(self, adapter_name: str, attr: str, owner_name: str) -> None:
        """Declare that `attr` of this module is the same tensor as the parameter `owner_name`, which `adapter_name`
        edits; the owner layer is linked with [`link_tied`] once it exists."""
        self.gradiend_tied.setdefault(adapter_name, {})[attr] = owner_name

    def link_tied(self, adapter_name: str, attr: str, owner: GradiendLayer, owner_attr: str) -> None:
        """Read the delta of `attr` for `adapter_name` from `owner`'s `owner_attr`."""
        if adapter_name not in owner.gradiend_layout:
            raise ValueError(f"The owner layer of tied parameter {attr!r} has no adapter {adapter_name!r}.")
        self._tied_sources.setdefault(adapter_name, {})[attr] = (owner, owner_attr)

    def delete_adapter(self, adapter_name: str) -> None:
        super().delete_adapter(adapter_name)
        self._tied_sources.pop(adapter_name, None)

    def set_scale(self, adapter: str, alpha: float | None = None, feature_value: float | None = None) -> None:
        """
        Change α and/or h of `adapter` on this layer (no effect if the layer does not hold it). Refused while merged.
        """
        if adapter not in self.gradiend_layout:
            return
        if adapter in self.merged_adapters:
            raise ValueError(
                f"Adapter {adapter!r} is merged into the weights; unmerge it (model.unmerge_adapter()) before "
                "changing alpha or feature_value."
            )
        if alpha is not None:
            self.gradiend_alpha[adapter] = float(alpha)
        if feature_value is not None:
            self.gradiend_feature_value[adapter] = float(feature_value)

    # ------------------------------------------------------------------------------------------------------ deltas
    def _column_values(self, adapter: str) -> torch.Tensor:
        """`alpha * act(h * w_d + b_d)` for every packed column of `adapter`, as `GradiendModel.decode` computes it."""
        values = self.gradiend_values[adapter]
        h = torch.full((1, 1), self.gradiend_feature_value[adapter], dtype=values.dtype, device=values.device)
        bias = values[1] if values.shape[0] > 1 else None
        decoded = F.linear(h, values[0].unsqueeze(1), bias)
        return self.gradiend_alpha[adapter] * ACTIVATIONS[self.gradiend_layout[adapter].activation](decoded)[0]

    def parameter_update(self, adapter: str, attr: str) -> tuple[torch.Tensor | None, torch.Tensor]:
        """
        The update of parameter `attr` by `adapter`: `(flat index, values)` when sparse, `(None, dense delta)` when
        dense. Tied copies answer with their owner's update.
        """
        if attr in self._tied_sources.get(adapter, {}):
            owner, owner_attr = self._tied_sources[adapter][attr]
            return owner.parameter_update(adapter, owner_attr)
        layout = self.gradiend_layout[adapter]
        slot = next((s for s in layout.slots if s.attr == attr), None)
        if slot is None:
            raise KeyError(f"Adapter {adapter!r} does not cover parameter {attr!r} of this layer.")
        columns = self._column_values(adapter)[slot.start:slot.start + slot.count]
        if layout.sparse:
            return self.gradiend_index[adapter][slot.start:slot.start + slot.count].long(), columns
        return None, columns.reshape(slot.shape)

    def get_delta_weight(self, adapter: str, attr: str = "weight") -> torch.Tensor:
        """The dense delta of parameter `attr` (default the weight) for `adapter`, in the parameter's shape."""
        index, values = self.parameter_update(adapter, attr)
        if index is None:
            return values
        parameter = getattr(self.get_base_layer(), attr)
        delta = torch.zeros(parameter.numel(), dtype=values.dtype, device=values.device)
        delta[index] = values
        return delta.reshape(parameter.shape)

    def covered_parameters(self, adapter: str) -> list[str]:
        """Attributes of the base module that `adapter` edits (owned first, then tied)."""
        owned = [s.attr for s in self.gradiend_layout[adapter].slots] if adapter in self.gradiend_layout else []
        return owned + list(self.gradiend_tied.get(adapter, {}))

    def held_adapters(self) -> set[str]:
        """Adapters that edit a parameter of this module (owned or tied)."""
        return set(self.gradiend_layout) | set(self.gradiend_tied)

    def _slots(self, adapter: str) -> tuple[ParameterSlot, ...]:
        """The parameters `adapter` owns here (none for a module that only holds tied copies)."""
        layout = self.gradiend_layout.get(adapter)
        return layout.slots if layout is not None else ()

    # ------------------------------------------------------------------------------------------------------- merge
    def merge(self, safe_merge: bool = False, adapter_names: list[str] | None = None) -> None:
        """
        Add the deltas of the active adapters (or `adapter_names`) to the covered parameters in place.

        Args:
            safe_merge (`bool`): Check every merged parameter for NaN/inf before writing; raise and write nothing if
                one is not finite.
            adapter_names (`list[str]`, *optional*): Adapters to merge; the active ones by default.
        """
        adapter_names = [a for a in check_adapters_to_merge(self, adapter_names) if a in self.held_adapters()]
        if safe_merge:
            self.check_finite_merge(adapter_names)
        base = self.get_base_layer()
        for adapter in adapter_names:
            for slot in self._slots(adapter):
                _add_(getattr(base, slot.attr), *self.parameter_update(adapter, slot.attr), sign=1.0)
            self.merged_adapters.append(adapter)

    @torch.no_grad()
    def check_finite_merge(self, adapter_names: list[str], module_name: str | None = None) -> None:
        """Raise `ValueError` if merging `adapter_names` (those not merged yet) would make a parameter NaN/inf."""
        base = self.get_base_layer()
        merged: dict[str, torch.Tensor] = {}
        for adapter in adapter_names:
            if adapter in self.merged_adapters:
                continue
            for slot in self._slots(adapter):
                current = merged.get(slot.attr, getattr(base, slot.attr).detach())
                merged[slot.attr] = _added(current, *self.parameter_update(adapter, slot.attr))
                if not torch.isfinite(merged[slot.attr]).all():
                    where = f"{module_name}.{slot.attr}" if module_name else f"{slot.attr!r} of {type(base).__name__}"
                    raise ValueError(
                        f"Merging adapter {adapter!r} makes {where} NaN or infinite; nothing was merged. Check the "
                        "direction's decoder values and alpha."
                    )

    def unmerge(self) -> None:
        """Subtract the merged deltas again (up to floating-point rounding)."""
        if not self.merged:
            warnings.warn("Already unmerged. Nothing to do.", stacklevel=2)
            return
        base = self.get_base_layer()
        while self.merged_adapters:
            adapter = self.merged_adapters.pop()
            for slot in self._slots(adapter):
                _add_(getattr(base, slot.attr), *self.parameter_update(adapter, slot.attr), sign=-1.0)

    # ----------------------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.disable_adapters:
            if self.merged:
                self.unmerge()
            for owner, _ in (source for sources in self._tied_sources.values() for source in sources.values()):
                if owner.merged:
                    owner.unmerge()
            return self.base_layer(x, *args, **kwargs)
        replaced = self._effective_parameters()
        if not replaced:
            return self.base_layer(x, *args, **kwargs)
        return torch.func.functional_call(self.base_layer, replaced, (x, *args), kwargs)

    def _effective_parameters(self) -> dict[str, torch.Tensor]:
        """`θ + Σ deltas` for each covered parameter with an active, not yet merged adapter."""
        base = self.get_base_layer()
        replaced: dict[str, torch.Tensor] = {}
        for adapter in self.active_adapters:
            attrs = []
            if adapter in self.gradiend_layout and not self.merged:
                attrs += [s.attr for s in self.gradiend_layout[adapter].slots]
            for attr, (owner, _) in self._tied_sources.get(adapter, {}).items():
                if adapter not in owner.merged_adapters:  # a merged owner already wrote the shared tensor
                    attrs.append(attr)
            for attr in attrs:
                current = replaced.get(attr, getattr(base, attr))
                replaced[attr] = _added(current, *self.parameter_update(adapter, attr))
        return replaced

    # ------------------------------------------------------------------------------------------------ conversions
    def supports_lora_conversion(self, adapter_name: str = "default") -> bool:
        """True when `adapter_name` edits exactly the weight matrix of an `nn.Linear` or `Conv1D` here."""
        return (
            isinstance(self.get_base_layer(), (nn.Linear, Conv1D))
            and self.covered_parameters(adapter_name) == ["weight"]
            and adapter_name in self.gradiend_layout
        )

    def __repr__(self) -> str:
        return "gradiend." + super().__repr__()


def _added(tensor: torch.Tensor, index: torch.Tensor | None, values: torch.Tensor) -> torch.Tensor:
    """`tensor + delta` out of place (differentiable in the values), with the delta given sparse or dense."""
    values = values.to(tensor.dtype)
    if index is None:
        return tensor + values
    return tensor.reshape(-1).index_add(0, index.to(tensor.device), values).reshape(tensor.shape)


@torch.no_grad()
def _add_(parameter: torch.Tensor, index: torch.Tensor | None, values: torch.Tensor, sign: float) -> None:
    """`parameter += sign * delta` in place, keeping the tensor object (and so any tie) intact."""
    data = parameter.data
    values = values.to(data.dtype) if sign > 0 else -values.to(data.dtype)
    if index is None:
        data.add_(values)
    elif data.is_contiguous():
        data.view(-1).index_add_(0, index.to(data.device), values)
    else:
        data.copy_(_added(data, index, values))
