"""How well encodings `h` separate the two classes of a feature."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two 1-D tensors; `nan` when either is constant."""
    x, y = x.double().reshape(-1), y.double().reshape(-1)
    x, y = x - x.mean(), y - y.mean()
    denominator = x.norm() * y.norm()
    return float((x @ y) / denominator) if denominator > 0 else float("nan")


def encoder_metrics(h: torch.Tensor, labels: torch.Tensor, feature_classes: Sequence[str]) -> dict[str, float]:
    """
    Metrics of encodings `h` (one per text, shape `(n,)` or `(n, 1)`) against labels ±1.

    Returns:
        `dict` with `correlation` (Pearson between `h` and the labels), `accuracy` (share of texts whose sign of `h`
        matches the label), `mean_<class>` per feature class and `n_<class>` counts.
    """
    h = h.detach().reshape(-1).float().cpu()
    labels = labels.reshape(-1).float().cpu()
    if h.numel() != labels.numel():
        raise ValueError(f"Got {h.numel()} encodings for {labels.numel()} labels.")
    if h.numel() == 0:
        raise ValueError("No encodings to score; the evaluation split has no rows.")
    metrics = {"correlation": pearson(h, labels), "accuracy": float((torch.sign(h) == labels).float().mean())}
    for name, value in zip(feature_classes, (1.0, -1.0), strict=True):
        chosen = h[labels == value]
        metrics[f"mean_{name}"] = float(chosen.mean()) if chosen.numel() else float("nan")
        metrics[f"n_{name}"] = int(chosen.numel())
    return metrics
