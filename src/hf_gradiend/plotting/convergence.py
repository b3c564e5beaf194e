"""Training convergence: validation correlation and class means over steps."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._figures import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_training_convergence(
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    feature_classes: Sequence[str],
    output_path: str | os.PathLike | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> tuple[Figure, Path | None]:
    """
    Draw the validation correlation (top) and the mean `h` per class (bottom) over training steps, one line style
    per run (e.g. per seed).

    Args:
        histories (`dict[str, list[dict]]`): Trainer log histories (`trainer.state.log_history`) by run label.
        feature_classes (`list[str]`): The two classes, +1 first.
        output_path (`str` or `os.PathLike`, *optional*): Where to save; nothing is written when omitted.
        title (`str`, *optional*): Figure title.
        dpi (`int`, *optional*, defaults to 150): Resolution of a raster file.

    Returns:
        `(figure, path)`; `path` is `None` when nothing was written.
    """
    from matplotlib.figure import Figure

    evaluated = {
        label: [e for e in history if "eval_correlation" in e] for label, history in histories.items()
    }
    if not any(evaluated.values()):
        raise ValueError(
            "The log history holds no evaluation; train with eval_strategy='steps' and eval_steps=... to record "
            "the correlation over steps."
        )
    figure = Figure(figsize=(7, 5.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    styles = ["-", "--", ":", "-."]
    colors = ("#1f77b4", "#d62728")
    for i, (label, entries) in enumerate(evaluated.items()):
        steps = [e["step"] for e in entries]
        style = styles[i % len(styles)]
        top.plot(steps, [e["eval_correlation"] for e in entries], style, color="black", marker="o", markersize=3,
                 label=label)
        for color, name in zip(colors, feature_classes, strict=True):
            bottom.plot(steps, [e[f"eval_mean_{name}"] for e in entries], style, color=color, marker="o",
                        markersize=3, label=f"{name} ({label})" if len(evaluated) > 1 else name)
    top.set_ylabel("validation Pearson r")
    top.set_ylim(-1.05, 1.05)
    top.axhline(0, color="grey", linewidth=0.5)
    bottom.set_ylabel("mean h")
    bottom.set_ylim(-1.05, 1.05)
    bottom.axhline(0, color="grey", linewidth=0.5)
    bottom.set_xlabel("step")
    if len(evaluated) > 1:
        top.legend(fontsize=8)
    bottom.legend(fontsize=8)
    figure.suptitle(title or f"Training convergence: {feature_classes[0]} (+1) vs {feature_classes[1]} (−1)")
    path = save_figure(figure, output_path, dpi) if output_path is not None else None
    return figure, path
