"""Intra-model evaluation of a direction: encoder analysis, the decoder (α, h) grid, the language-modelling score and
target-class probabilities, and the selection policies.

The decoder grid is split by concern: `records` (the [`GridPoint`] record), `grid_config` (the options,
[`DecoderGridConfig`]), `grid_search` (the in-place weight editor and the search) and `decoder` (the entry point,
[`evaluate_decoder_grid`]). The trainer methods `evaluate_encoder` / `evaluate_decoder` live in `hf_gradiend.training`.
"""

from ..stats import encoder_metrics, pearson
from .decoder import evaluate_decoder_grid
from .encoder import analyze_encoder, encoder_report
from .grid_config import DEFAULT_FEATURE_VALUES, DEFAULT_LEARNING_RATES, DecoderGridConfig
from .grid_search import InPlaceUpdate, run_grid
from .lms import LanguageModelingScorer, language_modeling_score
from .policies import (
    POLICIES,
    LMSThresholdPolicy,
    LMSTimesMetricPolicy,
    Selection,
    SelectionPolicy,
    SelectionTarget,
)
from .probabilities import TargetProbabilityScorer, target_probabilities
from .records import GridPoint

__all__ = [
    "DEFAULT_FEATURE_VALUES",
    "DEFAULT_LEARNING_RATES",
    "POLICIES",
    "DecoderGridConfig",
    "GridPoint",
    "InPlaceUpdate",
    "LMSThresholdPolicy",
    "LMSTimesMetricPolicy",
    "LanguageModelingScorer",
    "Selection",
    "SelectionPolicy",
    "SelectionTarget",
    "TargetProbabilityScorer",
    "analyze_encoder",
    "encoder_metrics",
    "encoder_report",
    "evaluate_decoder_grid",
    "language_modeling_score",
    "pearson",
    "run_grid",
    "target_probabilities",
]
