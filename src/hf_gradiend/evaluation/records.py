"""The records of a decoder grid: one [`GridPoint`] per scored or skipped (α, h), read by the policies and plots."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class GridPoint:
    """
    One point of a decoder grid.

    Args:
        learning_rate (`float`, *optional*): α (`None` for the base model).
        feature_value (`float`, *optional*): h (`None` for the base model).
        status (`str`): `"base"`, `"evaluated"` or `"skipped"`.
        reason (`str`, *optional*): Why a point was skipped.
        lms (`float`): Language-modelling score (`nan` when not evaluated).
        lms_details (`dict`): The scorer's full output (`correct`, `total`, `nll`, ...).
        probabilities (`dict`): `{text class: {word class: mean probability}}`.
        seconds (`float`): Wall time of the point (weight edit and scoring).

    Example:

    ```python
    >>> from hf_gradiend.evaluation import GridPoint
    >>> point = GridPoint(0.1, 1.0, "evaluated", lms=0.42, probabilities={"3PL": {"3SG": 0.2, "3PL": 0.5}})
    >>> point.to_dict()["lms"]
    0.42
    ```
    """

    learning_rate: float | None
    feature_value: float | None
    status: str
    reason: str | None = None
    lms: float = float("nan")
    lms_details: dict = field(default_factory=dict)
    probabilities: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """The point as a plain `dict` (what the results hold under `"grid"` and `"base"`)."""
        return asdict(self)


def finite_scores(point: GridPoint) -> bool:
    """Whether the LMS and every probability of `point` are finite numbers."""
    values = [point.lms] + [p for row in point.probabilities.values() for p in row.values()]
    return all(math.isfinite(v) for v in values)
