"""Small statistics at the bottom of the package: how well encodings `h` separate the two classes of a feature.

Used by training (the evaluation metrics of `GradiendTrainer.evaluate`), the encoder report and direction similarity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["encoder_metrics", "pearson"]


def pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """
    Pearson correlation of two tensors (flattened, computed in float64); `nan` when either is constant.

    Example:

    ```python
    >>> from hf_gradiend.evaluation import pearson
    >>> pearson(torch.tensor([0.9, -0.8, 0.7]), torch.tensor([1.0, -1.0, 1.0]))
    0.99...
    ```
    """
    x, y = x.double().reshape(-1), y.double().reshape(-1)
    x, y = x - x.mean(), y - y.mean()
    denominator = x.norm() * y.norm()
    return float((x @ y) / denominator) if denominator > 0 else float("nan")


def encoder_metrics(h: torch.Tensor, labels: torch.Tensor, feature_classes: Sequence[str]) -> dict[str, float]:
    """
    Metrics of encodings `h` (one per text, shape `(n,)` or `(n, 1)`) against labels ±1.

    Args:
        h (`torch.Tensor`): One encoding per text.
        labels (`torch.Tensor`): +1 for the first feature class, -1 for the second.
        feature_classes (`Sequence[str]`): The two classes, +1 first (they name the `mean_` and `n_` keys).

    Returns:
        `dict` with `correlation` (Pearson between `h` and the labels), `accuracy` (share of texts whose sign of `h`
        matches the label), `mean_<class>` per feature class and `n_<class>` counts.

    Example:

    ```python
    >>> from hf_gradiend.evaluation import encoder_metrics
    >>> encoder_metrics(torch.tensor([0.9, -0.8]), torch.tensor([1.0, -1.0]), ["3SG", "3PL"])["accuracy"]
    1.0
    ```
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
