"""Intra-model evaluation of a direction: encoder analysis, the decoder (α, h) grid, the language-modelling score and
target-class probabilities, and the selection policies."""

from .decoder import (
    DEFAULT_FEATURE_VALUES,
    DEFAULT_LEARNING_RATES,
    GridPoint,
    InPlaceUpdate,
    evaluate_decoder_grid,
)
from .encoder import analyze_encoder, encoder_report
from .encoder_metrics import encoder_metrics, pearson
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
from .workflow import EvaluationMixin

__all__ = [
    "DEFAULT_FEATURE_VALUES",
    "DEFAULT_LEARNING_RATES",
    "POLICIES",
    "EvaluationMixin",
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
    "target_probabilities",
]
