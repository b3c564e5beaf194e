"""A memory estimate before training, and a clear stop when it cannot fit."""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

logger = logging.getLogger(__name__)


def training_bytes(
    input_dim: int, groups_per_step: int, base_model: nn.Module, selected: int | None = None
) -> dict[str, int]:
    """
    Bytes a training step holds, by part: the direction's 3n+1 parameters with their gradients and two AdamW moments
    (4 copies), the x, y and reconstruction vectors of a step, one full gradient of the `selected` base weights
    (`input_dim` when not given) per kind (2) during extraction, and the base model.
    """
    params = 3 * input_dim + 1
    base = sum(p.numel() * p.element_size() for p in base_model.parameters())
    selected = selected or input_dim
    return {
        "direction_and_optimizer": 4 * params * 4,
        "step_vectors": 3 * groups_per_step * input_dim * 4,
        "base_gradients": 2 * selected * 4,
        "base_model": base,
    }


def available_bytes(device: torch.device | None = None) -> int | None:
    """Free memory on `device` (CUDA) or available system memory (CPU); `None` when unknown."""
    if device is not None and device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(
    input_dim: int, groups_per_step: int, base_model: nn.Module, selected: int | None = None
) -> dict[str, int]:
    """Log the estimate; raise `MemoryError` with the fix when it exceeds the memory available."""
    parts = training_bytes(input_dim, groups_per_step, base_model, selected)
    total = sum(parts.values())
    device = next(base_model.parameters()).device
    free = available_bytes(device)
    logger.info(
        "GRADIEND memory estimate: %.2f GB (%s); available: %s",
        total / 2**30, ", ".join(f"{k} {v / 2**30:.2f} GB" for k, v in parts.items()),
        "unknown" if free is None else f"{free / 2**30:.2f} GB",
    )
    # The base model is already in memory, so only the rest must still fit.
    if free is not None and total - parts["base_model"] > free:
        needed = (total - parts["base_model"]) / 2**30
        raise MemoryError(
            f"Training a direction over {input_dim:,} coordinates needs about {needed:.1f}"
            f" GB more, but only {free / 2**30:.1f} GB are available. Pre-prune (pre_prune=PrePruneConfig(topk=0.01)),"
            " select fewer weights with params=[...], or use a machine with more memory."
        )
    return parts
