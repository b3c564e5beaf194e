"""Rewriting a base model with a direction, as a peft adapter (the GRADIEND tuner).

Importing this package registers `peft_type="GRADIEND"` in peft, so `get_peft_model`, `PeftModel.from_pretrained` and
transformers' `load_adapter` handle GRADIEND adapters. It imports peft (already a dependency of the tables it fills)
and nothing heavier; the trainer workflow (`hf_gradiend.rewrite.workflow`) and model cards load on first use.
"""

from __future__ import annotations

from .config import GradiendAdapterConfig
from .direction import adapter_config_from_direction
from .layer import GradiendLayer
from .lora import LoraExport, export_lora
from .model import GradiendAdapterModel
from .registration import GradiendPeftType, register_gradiend_tuner

register_gradiend_tuner()

__all__ = [
    "GradiendAdapterConfig",
    "GradiendAdapterModel",
    "GradiendLayer",
    "GradiendPeftType",
    "LoraExport",
    "adapter_config_from_direction",
    "export_lora",
    "register_gradiend_tuner",
]
