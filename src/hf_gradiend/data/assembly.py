"""Assembling training rows: sampled occurrences with their texts, paired with alternatives, split and ordered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetDict, Features, Value
from datasets.table import InMemoryTable

from .matcher import TargetMatcher
from .pairing import choose_alternatives, match_case
from .splits import SPLITS, split_by_rows, split_by_vocabulary

TRAINING_FEATURES = Features({
    "text": Value("string"),
    "masked": Value("string"),
    "factual": Value("string"),
    "alternative": Value("string"),
    "factual_class": Value("string"),
    "alternative_class": Value("string"),
    "label": Value("int64"),
})
"""Columns of every training split: the original text, the text with the occurrence masked, the factual word, the
alternative word, both classes, and `label` (+1 for rows of the first feature class, -1 for the second)."""

TRAINING_SCHEMA = TRAINING_FEATURES.arrow_schema

Columns = dict[str, np.ndarray]
"""Sampled rows of one class, column by column."""


def add_texts(rows: Columns, matcher: TargetMatcher | None, data: Dataset, placeholder: str = "[MASK]") -> None:
    """
    Add `text` (fetched from `data` by row unless streamed) and, with a matcher, `masked` (the occurrence replaced
    by `placeholder`), `factual` (as written) and `word` (its lookup form) to sampled rows, in place.

    Args:
        rows (`dict[str, np.ndarray]`): Sampled rows with `row` (and `start`, `end` with a matcher; `text` when
            streamed).
        matcher ([`TargetMatcher`], *optional*): The matcher that found the occurrences.
        data (`Dataset`): The corpus the rows index.
        placeholder (`str`, *optional*, defaults to `"[MASK]"`): Replaces the occurrence in `masked`.
    """
    if "text" not in rows:
        order = np.argsort(rows["row"].astype(np.int64), kind="stable")
        texts = np.empty(len(order), dtype=object)
        if len(order):
            fetched = data.with_format("arrow")[rows["row"][order].astype(np.int64).tolist()]["text"]
            texts[order] = fetched.to_pylist()
        rows["text"] = texts
    if matcher is None:
        return
    spans = list(zip(rows["text"], rows["start"].tolist(), rows["end"].tolist(), strict=True))
    rows["masked"] = np.array([t[:s] + placeholder + t[e:] for t, s, e in spans], dtype=object)
    rows["factual"] = np.array([t[s:e] for t, s, e in spans], dtype=object)
    rows["word"] = np.array([matcher.lookup_form(f) for f in rows["factual"]], dtype=object)


def assemble_splits(
    per_class: Mapping[str, Columns],
    pair: tuple[str, str],
    ratios: Sequence[float],
    held_out: bool,
    explicit: Mapping[str, Sequence[str]],
    seed: int,
    written: set[str],
) -> DatasetDict:
    """
    The training splits of the two classes' sampled rows: split by row (or by word when `held_out`), each row paired
    with an alternative of the other class from the same split, in seeded order with a +1 row first.

    Args:
        per_class (`dict[str, dict[str, np.ndarray]]`): Sampled rows per class, with `key`, `word` and `factual`.
        pair (`tuple[str, str]`): The two classes, +1 first.
        ratios (`Sequence[float]`): Shares of train, validation and test; a split with share 0 is left out.
        held_out (`bool`): Split by word instead of by row.
        explicit (`dict[str, list[str]]`): Explicit alternatives by word.
        seed (`int`): Seed of the vocabulary split.
        written (`set[str]`): The target words as configured (their case is kept for alternatives).

    Returns:
        `datasets.DatasetDict` with the columns of [`TRAINING_FEATURES`].
    """
    split_of = {}
    for class_id in pair:
        words = per_class[class_id]["word"]
        split_of[class_id] = (
            split_by_vocabulary(words.tolist(), ratios, class_id, seed) if held_out
            else split_by_rows(len(words), ratios)
        )
    whole_pool = {c: Counter(per_class[c]["word"].tolist()) for c in pair}
    splits = {}
    for index, name in enumerate(SPLITS):
        if ratios[index] == 0:
            continue  # a split with ratio 0 is left out (an empty split would not reload after save_to_disk)
        parts = []
        for class_id, other_id in (pair, pair[::-1]):
            rows = {k: v[split_of[class_id] == index] for k, v in per_class[class_id].items()}
            pool = Counter(per_class[other_id]["word"][split_of[other_id] == index].tolist())
            pool = pool or whole_pool[other_id]  # only a split without rows of the other class lacks a pool
            parts.append(_paired(rows, pool, explicit, class_id, other_id, class_id == pair[0], written))
        splits[name] = _ordered_split(parts)
    return DatasetDict(splits)


def _paired(
    rows: Columns, pool: Counter, explicit: Mapping[str, Sequence[str]], class_id: str, other_id: str,
    positive: bool, written: set[str],
) -> Columns:
    """Rows of one class with their alternative (in the factual word's case), both classes and their ±1 label."""
    alternative = choose_alternatives(rows["word"], rows["key"], pool, explicit, class_id, other_id)
    cased = [match_case(a, f, written) for a, f in zip(alternative, rows["factual"], strict=True)]
    rows["alternative"] = np.array(cased, dtype=object)
    rows["factual_class"] = np.full(len(rows["key"]), class_id, dtype=object)
    rows["alternative_class"] = np.full(len(rows["key"]), other_id, dtype=object)
    rows["label"] = np.full(len(rows["key"]), 1 if positive else -1, dtype=np.int64)
    return rows


def _ordered_split(parts: list[Columns]) -> Dataset:
    """Both classes' rows of one split in seeded (key) order, the first row of the +1 class."""
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["key"], kind="stable")
    positive = np.flatnonzero(merged["label"][order] == 1)
    if len(positive) and positive[0] != 0:  # the +1 class first, so its order can be read from the data
        order[[0, positive[0]]] = order[[positive[0], 0]]
    table = pa.table({c: merged[c][order].tolist() for c in TRAINING_FEATURES}, schema=TRAINING_SCHEMA)
    return Dataset(InMemoryTable(table))
