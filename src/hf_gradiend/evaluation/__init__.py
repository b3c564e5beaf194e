"""Intra-model evaluation of a direction: encoder metrics (and, later, the decoder grid)."""

from .encoder_metrics import encoder_metrics, pearson

__all__ = ["encoder_metrics", "pearson"]
