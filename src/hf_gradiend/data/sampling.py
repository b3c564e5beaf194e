"""Deterministic sampling: every row gets a pseudo-random key from the seed; a sample is the rows with the smallest
keys. The result depends only on the seed and each row's position in the corpus, not on batch sizes, processes or
whether the corpus was streamed, and memory stays bounded by the sample size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise on `uint64` (a bijection that scatters neighbouring integers)."""
    z = np.asarray(values, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_keys(seed: int, rows: Iterable[int], starts: Iterable[int] | None = None) -> np.ndarray:
    """Keys of rows (and of occurrences in them, by character offset) for one seed."""
    rows = np.asarray(rows, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        keys = mix64(rows + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN)
        if starts is not None:
            keys = mix64(keys + np.asarray(starts, dtype=np.int64).astype(np.uint64))
    return keys


def unit_interval(keys: np.ndarray, salt: int) -> np.ndarray:
    """Numbers in [0, 1) derived from keys, independent of the keys' order (a new stream per salt)."""
    with np.errstate(over="ignore"):
        mixed = mix64(keys ^ mix64(np.array([salt], dtype=np.uint64))[0])
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class BottomK:
    """
    Keeps, per group, the `k` rows with the smallest keys out of a stream of batches (all rows when `k` is None).

    Args:
        k (`int`, *optional*): Rows to keep per group.
        columns (`tuple[str, ...]`): Columns to keep.
    """

    def __init__(self, k: int | None, columns: tuple[str, ...]):
        self.k = k
        self.columns = columns
        self.chunks: dict[str, list[dict[str, np.ndarray]]] = {}
        self.sizes: dict[str, int] = {}
        self.seen: dict[str, int] = {}

    def add(self, groups: list[str], keys: np.ndarray, batch: Mapping[str, list[Any]]) -> None:
        """Add a batch: the group of each row, its key, and its columns."""
        groups = np.asarray(groups, dtype=object)
        values = {c: _array(batch[c]) for c in self.columns}
        for group in dict.fromkeys(groups.tolist()):
            where = np.flatnonzero(groups == group)
            chunk = {"key": keys[where]}
            for column in self.columns:
                chunk[column] = values[column][where]
            self.chunks.setdefault(group, []).append(chunk)
            self.sizes[group] = self.sizes.get(group, 0) + len(where)
            self.seen[group] = self.seen.get(group, 0) + len(where)
            if self.k is not None and self.sizes[group] > 2 * self.k + 1024:
                self.chunks[group] = [self._smallest(group, self.k)]
                self.sizes[group] = self.k

    def _smallest(self, group: str, k: int | None) -> dict[str, np.ndarray]:
        merged = {c: np.concatenate([chunk[c] for chunk in self.chunks[group]]) for c in ("key", *self.columns)}
        keys = merged["key"]
        if k is not None and len(keys) > k:
            keep = np.argpartition(keys, k - 1)[:k]
        else:
            keep = np.arange(len(keys))
        keep = keep[np.argsort(keys[keep], kind="stable")]
        return {c: v[keep] for c, v in merged.items()}

    def result(self) -> dict[str, dict[str, np.ndarray]]:
        """Per group, its kept rows sorted by key (column `key` included)."""
        return {group: self._smallest(group, self.k) for group in self.chunks}


def _array(values: Any) -> np.ndarray:
    """Numeric arrays as they are; strings (and lists) as object arrays."""
    if isinstance(values, np.ndarray) and values.dtype != object and values.dtype.kind not in "US":
        return values
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array
