"""Train/validation/test splits of one class's rows: by row, or holding out whole words (vocabulary split)."""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "validation", "test")


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Validate `(train, validation, test)` ratios: three non-negative numbers summing to 1, train positive."""
    if len(ratios) != 3 or any(not isinstance(r, int | float) or r < 0 for r in ratios):
        raise ValueError(
            f"split_ratios={tuple(ratios)!r} must be three non-negative numbers (train, validation, test)."
        )
    if not math.isclose(sum(ratios), 1.0, abs_tol=1e-6) or ratios[0] <= 0:
        raise ValueError(
            f"split_ratios={tuple(ratios)!r} must sum to 1 with a positive train ratio, e.g. (0.8, 0.1, 0.1)."
        )
    return tuple(float(r) for r in ratios)


def split_sizes(n: int, ratios: Sequence[float]) -> tuple[int, int, int]:
    """Rows per split for `n` rows: validation and test get the floor of their share, train the rest."""
    validation = math.floor(round(n * ratios[1], 6))
    test = math.floor(round(n * ratios[2], 6))
    return n - validation - test, validation, test


def split_minimum(ratios: Sequence[float]) -> int:
    """The fewest rows of a class that give every split with a positive ratio at least one row."""
    n = 1
    while any(size == 0 and ratio > 0 for size, ratio in zip(split_sizes(n, ratios), ratios, strict=True)):
        n += 1
    return n


def split_by_rows(n: int, ratios: Sequence[float]) -> np.ndarray:
    """Split index (0 train, 1 validation, 2 test) of `n` rows already in random (key) order."""
    sizes = split_sizes(n, ratios)
    return np.repeat(np.arange(3), sizes)


def split_by_vocabulary(words: Sequence[str], ratios: Sequence[float], class_id: str, seed: int) -> np.ndarray:
    """
    Split index per row such that every word lies in exactly one split: words, most frequent first (ties in seeded
    order), go to the split furthest below its share of rows; every split with a positive ratio gets a word.
    """
    counts = Counter(words)
    positive = [i for i, r in enumerate(ratios) if r > 0]
    if len(counts) < len(positive):
        raise ValueError(
            f"A vocabulary-held-out split of class {class_id!r} needs at least {len(positive)} distinct words (one "
            f"per split), but its rows contain only {sorted(counts)}. Add target words to the class, or use the row "
            "split (held_out_vocabulary=False)."
        )
    order = sorted(counts, key=lambda w: (-counts[w], zlib.crc32(f"{seed}:{w}".encode())))
    total = len(words)
    assigned = np.zeros(3)
    split_of: dict[str, int] = {}
    for position, word in enumerate(order):
        empty = [i for i in positive if assigned[i] == 0]
        candidates = empty if len(order) - position <= len(empty) else positive
        deficit = [ratios[i] * total - assigned[i] for i in candidates]
        chosen = candidates[int(np.argmax(deficit))]
        split_of[word] = chosen
        assigned[chosen] += counts[word]
    return np.array([split_of[w] for w in words], dtype=np.int64)
