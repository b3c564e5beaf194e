"""Suites: many directions (one per class pair and per merged feature) over one base model and one gradient cache."""

from __future__ import annotations

from .planning import SuiteRun
from .records import RUN_FILE, SUITE_FILE, suite_directions
from .suite import TrainerSuite

__all__ = ["RUN_FILE", "SUITE_FILE", "SuiteRun", "TrainerSuite", "suite_directions"]
