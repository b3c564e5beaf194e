"""Rewriting a base model with a direction, as a peft adapter (the GRADIEND tuner).

Importing this package registers `peft_type="GRADIEND"` in peft, so `get_peft_model`, `PeftModel.from_pretrained` and
transformers' `load_adapter` handle GRADIEND adapters. The LoRA export and the trainer workflow load on first use.
"""

from __future__ import annotations

from .config import GradiendAdapterConfig
from .direction import adapter_config_from_direction
from .layer import GradiendLayer
from .model import GradiendAdapterModel
from .registration import GradiendPeftType, register_gradiend_tuner

register_gradiend_tuner()

__all__ = [
    "GradiendAdapterConfig",
    "GradiendAdapterModel",
    "GradiendLayer",
    "GradiendPeftType",
    "adapter_config_from_direction",
    "register_gradiend_tuner",
]
