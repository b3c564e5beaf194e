"""Training a direction: arguments, the Trainer subclass and the rows it reads."""

from .arguments import GradiendTrainingArguments
from .rows import ROW_COLUMNS, GradientGroups
from .trainer import GradiendTrainer

__all__ = ["ROW_COLUMNS", "GradiendTrainer", "GradiendTrainingArguments", "GradientGroups"]
