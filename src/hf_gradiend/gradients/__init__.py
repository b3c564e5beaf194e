"""The gradient engine: objectives, parameter selection and gradient extraction."""

from .engine import GradientEngine, GradientPair
from .objectives import CausalLMObjective, MaskedLMObjective, TextObjective, build_objective, infer_objective_name
from .selection import ParameterSelection, head_parameter_names, select_parameters

__all__ = [
    "CausalLMObjective",
    "GradientEngine",
    "GradientPair",
    "MaskedLMObjective",
    "ParameterSelection",
    "TextObjective",
    "build_objective",
    "head_parameter_names",
    "infer_objective_name",
    "select_parameters",
]
