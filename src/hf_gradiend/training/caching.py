"""A trainer's gradient cache: its expected size, its key and where it lives on disk."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..gradients.cache import GradientCache, base_model_fingerprint
from ..gradients.engine import GradientEngine


def expected_cache_gb(units: int, width: int, kinds: Sequence[str], dtype: str) -> float:
    """
    Size of a gradient cache holding `units` gradients of `width` coordinates for each of `kinds`.

    Args:
        units (`int`): Gradients to store (training groups plus validation texts).
        width (`int`): Coordinates per gradient.
        kinds (`Sequence[str]`): Gradient kinds stored.
        dtype (`str`): `"float16"` or `"float32"`.

    Returns:
        `float`: The size in GB.
    """
    itemsize = 2 if dtype == "float16" else 4
    return units * width * itemsize * len(kinds) / 2**30


def cache_fingerprint(
    engine: GradientEngine, coordinates: torch.Tensor | None, kinds: Sequence[str], dtype: str
) -> str:
    """
    The key of a gradient cache: base weights, parameter selection, objective and placeholder, coordinates, kinds
    stored, dtype and the cache format; gradients cached under one key never change.

    Returns:
        `str`: 20 hex digits.
    """
    identity = "|".join([
        base_model_fingerprint(engine.model, engine.selection.names), engine.selection.fingerprint,
        engine.objective.name, engine.objective.placeholder,
        "all" if coordinates is None else str(hash(tuple(coordinates.tolist()))),
        ",".join(kinds), dtype, f"format {GradientCache.FORMAT}",
    ])
    return hashlib.sha256(identity.encode()).hexdigest()[:20]


def cache_directory(fingerprint: str, cache_dir: str | os.PathLike | None = None) -> str | os.PathLike:
    """
    `cache_dir` when given, else `<HF_GRADIEND_CACHE or ~/.cache/hf_gradiend>/gradients/<fingerprint>`.
    """
    return cache_dir or os.path.join(
        os.environ.get("HF_GRADIEND_CACHE", os.path.join(Path.home(), ".cache", "hf_gradiend")),
        "gradients", fingerprint,
    )
