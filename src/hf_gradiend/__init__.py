"""hf_gradiend: GRADIEND feature directions learned from gradients, native to transformers, peft and the Hub.

Importing the package registers the `"gradiend"` model type with `AutoConfig`/`AutoModel` and the `"GRADIEND"`
adapter type with peft; everything else (the trainer, data creation, evaluation, plots) loads on first use. Common
names are importable from here; advanced ones from a subpackage (`hf_gradiend.evaluation`, `hf_gradiend.rewrite`,
...). ARCHITECTURE.md maps the layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from transformers import AutoConfig, AutoModel

from ._version import __version__
from .configuration_gradiend import GradiendConfig
from .errors import GradiendError, IncompatibleDirectionsError, LatentDimError, ParameterMismatchError
from .modeling_gradiend import GradiendModel, GradiendOutput
from .rewrite import (  # importing the tuner registers peft_type "GRADIEND" in peft's mapping tables
    GradiendAdapterConfig,
    GradiendAdapterModel,
    GradiendPeftType,
    LoraExport,
    adapter_config_from_direction,
    export_lora,
)

AutoConfig.register(GradiendConfig.model_type, GradiendConfig, exist_ok=True)
AutoModel.register(GradiendConfig, GradiendModel, exist_ok=True)

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
    "DecoderGridConfig": ".evaluation",
    "topk_sets": ".compare",
    "topk_overlap": ".compare",
    "similarity_matrix": ".compare",
    "LabelledMatrix": ".compare",
    "plot_topk_overlap": ".plotting",
    "TrainerSuite": ".suites",
    "SuiteRun": ".suites",
    "suite_directions": ".suites",
    "smollm2_path": ".offline_assets",
    "MissingAssetError": ".offline_assets",
}
_SUBPACKAGES = ("compare", "data", "evaluation", "gradients", "metrics", "plotting", "rewrite", "suites", "training")

if TYPE_CHECKING:  # the lazy names, visible to IDEs and type checkers (tests/test_public_imports.py keeps it in sync)
    from . import compare, data, evaluation, gradients, metrics, plotting, rewrite, suites, training
    from .compare import LabelledMatrix, similarity_matrix, topk_overlap, topk_sets
    from .data import TaggedToken, TextFilterConfig, TextPredictionDataCreator, load_wordnet
    from .evaluation import DecoderGridConfig
    from .gradients import GradientEngine, GradientPair, ParameterSelection, select_parameters
    from .offline_assets import MissingAssetError, smollm2_path
    from .plotting import plot_topk_overlap
    from .suites import SuiteRun, TrainerSuite, suite_directions
    from .training import (
        GradiendTrainer,
        GradiendTrainingArguments,
        PostPruneConfig,
        PrePruneConfig,
        TextPredictionTrainer,
    )

__all__ = [
    "DecoderGridConfig",
    "GradiendAdapterConfig",
    "GradiendAdapterModel",
    "GradiendConfig",
    "GradiendError",
    "GradiendModel",
    "GradiendOutput",
    "GradiendPeftType",
    "GradiendTrainer",
    "GradiendTrainingArguments",
    "GradientEngine",
    "GradientPair",
    "IncompatibleDirectionsError",
    "LabelledMatrix",
    "LatentDimError",
    "LoraExport",
    "MissingAssetError",
    "ParameterMismatchError",
    "ParameterSelection",
    "PostPruneConfig",
    "PrePruneConfig",
    "SuiteRun",
    "TaggedToken",
    "TextFilterConfig",
    "TextPredictionDataCreator",
    "TextPredictionTrainer",
    "TrainerSuite",
    "__version__",
    "adapter_config_from_direction",
    "compare",
    "data",
    "evaluation",
    "export_lora",
    "gradients",
    "load_wordnet",
    "metrics",
    "plot_topk_overlap",
    "plotting",
    "rewrite",
    "select_parameters",
    "similarity_matrix",
    "smollm2_path",
    "suite_directions",
    "suites",
    "topk_overlap",
    "topk_sets",
    "training",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
