"""Training a direction: arguments, the Trainer subclass and the rows it reads."""

from ..rows import ROW_COLUMNS
from .arguments import GradiendTrainingArguments
from .groups import GradientGroups
from .pruning import PostPruneConfig, PrePruneConfig
from .text_prediction import TextPredictionTrainer
from .trainer import GradiendTrainer

__all__ = [
    "ROW_COLUMNS",
    "GradiendTrainer",
    "GradiendTrainingArguments",
    "GradientGroups",
    "PostPruneConfig",
    "PrePruneConfig",
    "TextPredictionTrainer",
]
