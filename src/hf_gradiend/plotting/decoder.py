"""Decoder grid figure: probability shift and LMS against the learning rate α, the chosen point marked."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._figures import check_output_path, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LINE_COLORS = ("#1f77b4", "#7f7f7f", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def plot_decoder_grid(
    results: Mapping[str, Any],
    keys: Sequence[str] | None = None,
    output_path: str | os.PathLike | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> tuple[Figure, Path | None]:
    """
    Draw a decoder grid: for each selection (one column per result key such as `"3SG"` or `"3SG_weaken"`), the shift
    of the target class's mean probability (top) and the LMS (bottom) against α, one line per feature value h, with
    the base LMS, the policy's LMS threshold (when it has one) and the chosen point (a star). Skipped points are not
    drawn. Needs the `plot` extra.

    Args:
        results (`dict`): The output of `evaluate_decoder` / [`evaluate_decoder_grid`].
        keys (`list[str]`, *optional*): The selections to draw; every one in `results` by default.
        output_path (`str` or `os.PathLike`, *optional*): Where to save the figure (the suffix picks the format).
            Nothing is written when omitted.
        title (`str`, *optional*): Figure title.
        dpi (`int`, *optional*, defaults to 150): Resolution of raster files.

    Returns:
        `(figure, path)`: the figure and the path written (`None` without `output_path`).

    Example:

    ```python
    >>> results = trainer.evaluate_decoder()
    >>> figure, path = plot_decoder_grid(results, output_path="decoder.png")
    ```
    """
    from matplotlib.figure import Figure


    path = check_output_path(output_path)
    available = [k for k, v in results.items() if isinstance(v, Mapping) and "target_class" in v]
    keys = list(keys) if keys is not None else available
    unknown = [k for k in keys if k not in available]
    if not keys or unknown:
        raise ValueError(f"Cannot plot selection(s) {unknown or keys}; the results have {available}.")
    base = results["base"]
    points = [p for p in results["grid"] if p["status"] == "evaluated"]
    alphas = [p["learning_rate"] for p in points]
    log_scale = bool(alphas) and all(a > 0 for a in alphas)
    threshold = _threshold(results)

    figure = Figure(figsize=(4.2 * len(keys) + 0.6, 6.2), layout="constrained")
    grid = figure.subplots(2, len(keys), squeeze=False, sharex="col")
    for column, key in enumerate(keys):
        chosen = results[key]
        rows_class, target_class = chosen["measured_on"], chosen["target_class"]
        base_p = base["probabilities"][rows_class][target_class]
        top, bottom = grid[0][column], grid[1][column]
        for i, h in enumerate(dict.fromkeys(p["feature_value"] for p in points)):
            line = sorted((p for p in points if p["feature_value"] == h), key=lambda p: p["learning_rate"])
            x = [p["learning_rate"] for p in line]
            color = _LINE_COLORS[i % len(_LINE_COLORS)]
            top.plot(x, [p["probabilities"][rows_class][target_class] - base_p for p in line], "o-", ms=3,
                     color=color, label=f"h = {h:g}")
            bottom.plot(x, [p["lms"] for p in line], "o-", ms=3, color=color, label=f"h = {h:g}")
        chosen_p = chosen["target_probability"] - chosen["base_target_probability"]
        top.plot([chosen["learning_rate"]], [chosen_p], marker="*", ms=15, color="gold", markeredgecolor="black",
                 linestyle="none", label="chosen")
        bottom.plot([chosen["learning_rate"]], [chosen["lms"]], marker="*", ms=15, color="gold",
                    markeredgecolor="black", linestyle="none", label="chosen")
        top.axhline(0.0, color="grey", linewidth=0.6)
        bottom.axhline(base["lms"], color="black", linestyle=":", linewidth=1, label="base LMS")
        if threshold is not None:
            bottom.axhline(threshold, color="grey", linestyle="--", linewidth=1, label="LMS threshold")
        top.set_title(f"{key}: α={chosen['learning_rate']:g}, h={chosen['feature_value']:g}", fontsize=10)
        top.set_ylabel(f"Δ P({target_class}) on {rows_class} texts")
        bottom.set_ylabel("LMS")
        bottom.set_xlabel("learning rate α")
        for axes in (top, bottom):
            axes.set_xscale("log" if log_scale else "symlog")
            axes.grid(True, alpha=0.3)
        if column == 0:
            top.legend(fontsize=8)
            bottom.legend(fontsize=8)
    figure.suptitle(title or "Decoder grid")
    if path is not None:
        save_figure(figure, path, dpi)
    return figure, path


def _threshold(results: Mapping[str, Any]) -> float | None:
    policy = results.get("settings", {}).get("policy", {})
    ratio = policy.get("ratio")
    base_lms = results["base"]["lms"]
    if ratio is None or not math.isfinite(base_lms):
        return None
    return ratio * base_lms
