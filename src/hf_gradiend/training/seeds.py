"""Several seeds per direction: when a seed counts as converged, and the report written beside the model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class SeedResult:
    """Validation metrics of one seed's best state, its convergence verdict, and that state (kept in memory)."""

    seed: int
    converged: bool
    metrics: dict[str, float]
    state: dict[str, torch.Tensor] = field(repr=False)
    log_history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    selected: bool = False


def converged(
    metrics: dict[str, float], feature_classes: Sequence[str], min_correlation: float, min_class_mean: float
) -> bool:
    """
    A seed converges when its validation |r| ≥ `min_correlation` and the two class means have opposite signs, each
    with |mean| ≥ `min_class_mean`.
    """
    first, second = (metrics[f"mean_{c}"] for c in feature_classes)
    return (
        abs(metrics["correlation"]) >= min_correlation
        and first * second < 0
        and min(abs(first), abs(second)) >= min_class_mean
    )


def write_seed_report(results: Sequence[SeedResult], path: Path) -> None:
    """JSON list of `{seed, converged, selected, metrics}` per seed tried."""
    report: list[dict[str, Any]] = [
        {"seed": r.seed, "converged": r.converged, "selected": r.selected, "metrics": r.metrics} for r in results
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
