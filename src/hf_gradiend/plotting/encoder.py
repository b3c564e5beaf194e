"""Encoder distribution figure: `h` per feature class and per neutral group."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._figures import check_output_path, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_GROUP_TITLES = {
    "neutral_training_masked": "neutral\n(training texts,\nother word masked)",
    "neutral_dataset": "neutral\n(neutral texts)",
}
_COLORS = ("#1f77b4", "#d62728", "#7f7f7f", "#bcbd22")


def plot_encoder_distributions(
    encodings: Any,
    feature_classes: Sequence[str] | None = None,
    output_path: str | os.PathLike | None = None,
    title: str | None = None,
    boundary: float | None = 0.5,
    dpi: int = 150,
) -> tuple[Figure, Path | None]:
    """
    Draw the distribution of the encodings `h`: one column per feature class (training rows) and one per neutral
    group, as a violin with the individual values jittered on top. Needs the `plot` extra.

    Args:
        encodings (`datasets.Dataset` or `dict` of columns): Columns `h`, `group` and `factual_class`, as returned
            in `evaluate_encoder(return_dataset=True)["encodings"]`.
        feature_classes (`list[str]`, *optional*): The two classes in display order (+1 first); the order of
            appearance otherwise.
        output_path (`str` or `os.PathLike`, *optional*): Where to save the figure (the suffix picks the format).
            Nothing is written when omitted.
        title (`str`, *optional*): Figure title.
        boundary (`float`, *optional*, defaults to 0.5): Draw dashed lines at ±boundary (the ternary accuracy's cut);
            `None` for none.
        dpi (`int`, *optional*, defaults to 150): Resolution of raster files.

    Returns:
        `(figure, path)`: the figure and the path written (`None` without `output_path`).

    Example:

    ```python
    >>> report = trainer.evaluate_encoder(return_dataset=True)
    >>> figure, path = plot_encoder_distributions(report["encodings"], output_path="encoder.png")
    ```
    """
    from matplotlib.figure import Figure


    path = check_output_path(output_path)
    columns = _columns(encodings, feature_classes)
    if not columns:
        raise ValueError("There are no encodings to plot.")
    figure = Figure(figsize=(1.9 * len(columns) + 1.5, 4.2), layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(1, len(columns) + 1))
    values = [v for _, v in columns]
    parts = axes.violinplot(values, positions=positions, showextrema=False, widths=0.8)
    rng = random.Random(0)
    for i, (body, (_, column)) in enumerate(zip(parts["bodies"], columns, strict=True)):
        color = _COLORS[i % len(_COLORS)]
        body.set_facecolor(color)
        body.set_alpha(0.35)
        jitter = [positions[i] + rng.uniform(-0.12, 0.12) for _ in column]
        axes.scatter(jitter, column, s=9, color=color, alpha=0.8, linewidths=0)
        mean = sum(column) / len(column)
        axes.hlines(mean, positions[i] - 0.3, positions[i] + 0.3, color="black", linewidth=1.5)
        axes.annotate(f"{mean:+.2f}\nn={len(column)}", (positions[i] + 0.32, mean), fontsize=8, va="center")
    if boundary is not None:
        for y in (boundary, -boundary):
            axes.axhline(y, color="grey", linestyle="--", linewidth=0.8)
    axes.axhline(0.0, color="grey", linewidth=0.5)
    axes.set_xticks(positions, [label for label, _ in columns])
    axes.set_xlim(0.4, len(columns) + 0.9)
    axes.set_ylabel("encoding h")
    low = min(min(v) for v in values)
    high = max(max(v) for v in values)
    if low >= -1.0 and high <= 1.0:
        axes.set_ylim(-1.1, 1.1)
    axes.set_title(title or "Encoder distribution")
    if path is not None:
        save_figure(figure, path, dpi)
    return figure, path


def _columns(encodings: Any, feature_classes: Sequence[str] | None) -> list[tuple[str, list[float]]]:
    data = encodings if isinstance(encodings, Mapping) else {c: encodings[c] for c in ("h", "group", "factual_class")}
    missing = [c for c in ("h", "group", "factual_class") if c not in data]
    if missing:
        raise ValueError(f"encodings lack the column(s) {missing}; pass evaluate_encoder(...)['encodings'].")
    h, groups, classes = list(data["h"]), list(data["group"]), list(data["factual_class"])
    training = [c for c, g in zip(classes, groups, strict=True) if g == "training"]
    order = list(feature_classes) if feature_classes else list(dict.fromkeys(training))
    order += [c for c in dict.fromkeys(training) if c not in order]
    columns = []
    for name in order:
        values = [float(x) for x, c, g in zip(h, classes, groups, strict=True) if g == "training" and c == name]
        if values:
            columns.append((name, values))
    for group, label in _GROUP_TITLES.items():
        values = [float(x) for x, g in zip(h, groups, strict=True) if g == group]
        if values:
            columns.append((label, values))
    return columns
