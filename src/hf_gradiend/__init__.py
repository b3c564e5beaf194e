"""hf_gradiend: GRADIEND feature directions learned from gradients, native to transformers, peft and the Hub.

Importing the package registers the `"gradiend"` model type with `AutoConfig`/`AutoModel`; heavier parts (the
trainer) load on first use.
"""

from __future__ import annotations

import importlib

from transformers import AutoConfig, AutoModel

from .configuration_gradiend import GradiendConfig
from .errors import GradiendError, LatentDimError, ParameterMismatchError
from .modeling_gradiend import GradiendModel, GradiendOutput

__version__ = "0.1.0.dev0"

AutoConfig.register(GradiendConfig.model_type, GradiendConfig, exist_ok=True)
AutoModel.register(GradiendConfig, GradiendModel, exist_ok=True)

from . import rewrite  # noqa: E402  (registers the peft_type "GRADIEND" in peft's mapping tables)
from .rewrite import (  # noqa: E402
    GradiendAdapterConfig,
    GradiendAdapterModel,
    GradiendPeftType,
    LoraExport,
    adapter_config_from_direction,
    export_lora,
)

_LAZY = {
    "GradientEngine": ".gradients",
    "GradientPair": ".gradients",
    "ParameterSelection": ".gradients",
    "select_parameters": ".gradients",
    "GradiendTrainer": ".training",
    "GradiendTrainingArguments": ".training",
    "TextPredictionTrainer": ".training",
    "PrePruneConfig": ".training",
    "PostPruneConfig": ".training",
    "TextFilterConfig": ".data",
    "TextPredictionDataCreator": ".data",
    "TaggedToken": ".data",
    "load_wordnet": ".data",
    "topk_sets": ".compare",
    "topk_overlap": ".compare",
    "similarity_matrix": ".compare",
    "LabelledMatrix": ".compare",
    "plot_topk_overlap": ".plotting.overlap",
    "TrainerSuite": ".suites",
    "SuiteRun": ".suites",
    "suite_directions": ".suites",
    "smollm2_path": ".offline_assets",
    "MissingAssetError": ".offline_assets",
}

__all__ = [
    "GradiendAdapterConfig",
    "GradiendAdapterModel",
    "GradiendPeftType",
    "LoraExport",
    "adapter_config_from_direction",
    "export_lora",
    "rewrite",
    "GradiendConfig",
    "GradiendError",
    "GradiendModel",
    "GradiendOutput",
    "LatentDimError",
    "ParameterMismatchError",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

