"""Rewriting a base model with a direction, as a peft adapter (the GRADIEND tuner).

A self-contained peft tuner, laid out like `peft/tuners/ia3/`: `config.py` (the adapter config), `layer.py` (the
wrapped layer), `model.py` (the tuner), `registration.py` (peft's mapping tables), plus `direction.py` (a trained
direction -> its adapter config) and `lora.py` (export as a LoRA adapter).

Importing this package registers `peft_type="GRADIEND"` in peft, so `get_peft_model`, `PeftModel.from_pretrained` and
transformers' `load_adapter` handle GRADIEND adapters. It imports peft and the package's configuration, errors and
parameter-map modules, never the direction model (`modeling_gradiend`), the model cards or the trainer; the trainer's
rewrite workflow lives in `hf_gradiend.training.rewriting`.
"""

from __future__ import annotations

from .config import GradiendAdapterConfig
from .direction import adapter_config_from_direction
from .layer import GradiendLayer
from .lora import LoraExport, export_lora
from .model import GradiendAdapterModel
from .registration import GradiendPeftType, register_gradiend_tuner

register_gradiend_tuner(GradiendAdapterConfig, GradiendAdapterModel)

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
