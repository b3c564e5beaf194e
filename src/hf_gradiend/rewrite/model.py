"""The GRADIEND tuner: injects [`GradiendLayer`]s where a direction's covered parameters live."""

from __future__ import annotations

import torch
from peft.tuners.tuners_utils import BaseTuner
from torch import nn

from .config import GradiendAdapterConfig, finite_number
from .layer import AdapterLayout, GradiendLayer, ParameterSlot
from .plan import InjectionPlan, plan_injection
from .registration import PREFIX


class GradiendAdapterModel(BaseTuner):
    r"""
    The peft tuner for `peft_type="GRADIEND"`: a direction's rewrite `θ + α · dec(h)` as an adapter.

    Created by `peft.get_peft_model(model, config)` with a [`GradiendAdapterConfig`]; not instantiated directly. It
    wraps each module holding a covered parameter in a [`GradiendLayer`] (and each module sharing a covered tensor,
    such as a tied `lm_head`), after checking the base model's parameter names and shapes. Everything else is peft's:
    `merge_adapter`, `unmerge_adapter`, `disable_adapter()`, several adapters active at once (their deltas add),
    `merge_and_unload()`, `save_pretrained`, `PeftModel.from_pretrained` and transformers' `load_adapter`.

    Tied input/output embeddings: a covered tied tensor is edited once. In the unmerged forward both modules that use
    it see `θ + delta`; merging adds the delta to the shared tensor once, so a merged or saved model keeps the tie.

    Example:

    ```python
    >>> from peft import get_peft_model
    >>> from hf_gradiend.rewrite import adapter_config_from_direction
    >>> config = adapter_config_from_direction(direction, alpha=0.05, feature_value=1.0)
    >>> model = get_peft_model(base_model, config)
    >>> model.set_scale(alpha=0.1)                   # change α (or h) without rebuilding
    >>> with model.disable_adapter():
    ...     base_logits = model(**inputs).logits
    >>> plain = model.merge_and_unload(safe_merge=True)
    ```
    """

    prefix: str = PREFIX
    tuner_layer_cls = GradiendLayer
    target_module_mapping: dict[str, list[str]] = {}

    def inject_adapter(
        self,
        model: nn.Module,
        adapter_name: str,
        autocast_adapter_dtype: bool = True,
        low_cpu_mem_usage: bool = False,
        state_dict: dict[str, torch.Tensor] | None = None,
    ) -> None:
        # The plan checks the base model before anything is replaced, so a mismatch leaves the model untouched.
        plan = plan_injection(model, self.peft_config[adapter_name])
        self._plan = plan
        try:
            super().inject_adapter(
                model, adapter_name, autocast_adapter_dtype=autocast_adapter_dtype,
                low_cpu_mem_usage=low_cpu_mem_usage, state_dict=state_dict,
            )
        finally:
            self._plan = None
        _link_tied(model, adapter_name, plan)

    def _prepare_adapter_config(self, peft_config: GradiendAdapterConfig, model_config: dict) -> GradiendAdapterConfig:
        return peft_config  # the targets come from `param_names`, never from an architecture table

    def _check_target_module_exists(self, peft_config: GradiendAdapterConfig, key: str) -> bool:
        return key in self._plan.owners

    def _check_tied_module_exists(self, peft_config: GradiendAdapterConfig, key: str) -> bool:
        return key in self._plan.tied

    def _check_tied_modules(self, model: nn.Module, peft_config: GradiendAdapterConfig) -> None:
        """Tied tensors are handled by the layers themselves (see the class docstring); nothing to warn about."""

    def _check_merge_allowed(self) -> None:
        """Merging a tied tensor writes it once, which is the rewrite `θ + α·dec(h)` of the shared weight."""

    def _create_and_replace(
        self,
        peft_config: GradiendAdapterConfig,
        adapter_name: str,
        target: nn.Module,
        target_name: str,
        parent: nn.Module,
        current_key: str,
        **optional_kwargs,
    ) -> None:
        layer = target if isinstance(target, GradiendLayer) else GradiendLayer(target)
        owned = self._plan.owners.get(current_key, [])
        if owned:
            layout, values, index = _packed_values(peft_config, owned, current_key, layer.get_base_layer())
            layer.update_layer(
                adapter_name, layout, values, index, peft_config.alpha, peft_config.feature_value,
                inference_mode=peft_config.inference_mode,
            )
        for attr, (owner_path, owner_attr) in self._plan.tied.get(current_key, {}).items():
            layer.update_tied(adapter_name, attr, f"{owner_path}.{owner_attr}")
        if layer is not target:
            if adapter_name not in self.active_adapters:
                layer.requires_grad_(False)
            self._replace_module(parent, target_name, layer, target)

    # ------------------------------------------------------------------------------------------------ α and h
    def set_scale(
        self, alpha: float | None = None, feature_value: float | None = None, adapter_name: str | None = None
    ) -> None:
        """
        Change α and/or h of an adapter in place, without rebuilding it; `save_pretrained` then records the new values.

        Args:
            alpha (`float`, *optional*): New step size α.
            feature_value (`float`, *optional*): New feature value h.
            adapter_name (`str`, *optional*): The adapter; the active one when only one is active.

        Raises:
            `ValueError`: The adapter is unknown or merged (unmerge first), or a value is not finite.
        """
        if adapter_name is None:
            if len(self.active_adapters) != 1:
                raise ValueError(f"Several adapters are active ({self.active_adapters}); pass adapter_name=.")
            adapter_name = self.active_adapters[0]
        config = self.peft_config.get(adapter_name)
        if not isinstance(config, GradiendAdapterConfig):
            raise ValueError(f"No GRADIEND adapter named {adapter_name!r}; adapters: {list(self.peft_config)}.")
        alpha = config.alpha if alpha is None else finite_number("alpha", alpha)
        if feature_value is None:
            feature_value = config.feature_value
        feature_value = finite_number("feature_value", feature_value)
        layers = [m for m in self.model.modules() if isinstance(m, GradiendLayer)]
        merged = [m for m in layers if adapter_name in m.merged_adapters]
        if merged:
            raise ValueError(
                f"Adapter {adapter_name!r} is merged into the weights; call unmerge_adapter() before changing alpha "
                "or feature_value."
            )
        for layer in layers:
            layer.set_scale(adapter_name, alpha=alpha, feature_value=feature_value)
        config.alpha, config.feature_value = alpha, feature_value

    # ------------------------------------------------------------------------------------------------- merging
    def merge_adapter(self, adapter_names: list[str] | None = None, safe_merge: bool = False) -> None:
        if safe_merge:
            self._check_finite_merge(adapter_names)
        super().merge_adapter(adapter_names=adapter_names, safe_merge=safe_merge)

    def _unload_and_optionally_merge(
        self,
        merge: bool = True,
        progressbar: bool = False,
        safe_merge: bool = False,
        adapter_names: list[str] | None = None,
    ) -> nn.Module:
        if merge and safe_merge:
            self._check_finite_merge(adapter_names)
        return super()._unload_and_optionally_merge(
            merge=merge, progressbar=progressbar, safe_merge=safe_merge, adapter_names=adapter_names
        )

    def _check_finite_merge(self, adapter_names: list[str] | None) -> None:
        """Check all layers before any merges, so a NaN/inf found in a late layer leaves every weight untouched."""
        for name, layer in self.model.named_modules():
            if isinstance(layer, GradiendLayer):
                adapters = adapter_names if adapter_names is not None else layer.active_adapters
                layer.check_finite_merge(adapters, module_name=name)


def _packed_values(
    config: GradiendAdapterConfig, owned: list[tuple[str, int]], module_name: str, base: nn.Module
) -> tuple[AdapterLayout, torch.Tensor, torch.Tensor | None]:
    """The layout and packed `(rows, k)` values (and flat indices when sparse) of one module's covered parameters."""
    numels = config.selection.numels
    counts = config.coordinate_counts or numels
    slots, start = [], 0
    for attr, i in owned:
        slots.append(ParameterSlot(attr, tuple(config.param_shapes[i]), start, counts[i]))
        start += counts[i]
    layout = AdapterLayout(tuple(slots), sparse=config.pruned, activation=config.activation_decoder)
    rows = 2 if config.decoder_bias else 1
    index_dtype = torch.int32 if max(numels[i] for _, i in owned) < 2**31 else torch.int64
    reference = getattr(base, owned[0][0])
    if config.direction_weights is None:  # values come from a checkpoint; float32 holds a float32/bf16 one exactly
        index = torch.zeros(layout.width, dtype=index_dtype, device=reference.device) if config.pruned else None
        return layout, torch.zeros(rows, layout.width, dtype=torch.float32, device=reference.device), index
    columns, indices = [], []
    for (_, i), slot in zip(owned, slots, strict=True):
        name = config.param_names[i]
        piece = config.direction_weights.get(name)
        if piece is None or piece["w"].numel() != slot.count:
            raise ValueError(
                f"direction_weights has no values for {name!r} (or not {slot.count} of them); build the config with "
                "adapter_config_from_direction(direction, ...)."
            )
        column = [piece["w"].reshape(-1)] + ([piece["b"].reshape(-1)] if rows == 2 else [])
        columns.append(torch.stack(column))
        if config.pruned:
            indices.append(piece["index"].to(index_dtype))
    values = torch.cat(columns, dim=1).detach().clone().to(reference.device)
    return layout, values, torch.cat(indices).to(reference.device) if config.pruned else None


def _link_tied(model: nn.Module, adapter_name: str, plan: InjectionPlan) -> None:
    for path, attrs in plan.tied.items():
        layer = model.get_submodule(path)
        for attr, (owner_path, owner_attr) in attrs.items():
            layer.link_tied(adapter_name, attr, model.get_submodule(owner_path), owner_attr)
