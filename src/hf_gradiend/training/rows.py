"""Training rows: validation of the columns the trainer reads, labels, and groups of texts per gradient."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from datasets import Dataset, DatasetDict

ROW_COLUMNS = ("masked", "factual", "alternative", "factual_class", "alternative_class")
"""Columns every training row carries: the masked text, the factual word, the alternative (counterfactual) word,
and the classes of both words."""


def as_dataset(rows: Any, name: str = "rows") -> Dataset:
    """
    Turn rows given as a `datasets.Dataset`, a list of dicts, a dict of columns or a pandas DataFrame into a
    `Dataset`, checking the columns in [`ROW_COLUMNS`].
    """
    if isinstance(rows, DatasetDict):
        raise TypeError(f"{name} is a DatasetDict; pass one split, e.g. data['train'].")
    if isinstance(rows, Dataset):
        dataset = rows
    elif isinstance(rows, Mapping):
        dataset = Dataset.from_dict(dict(rows))
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        dataset = Dataset.from_pandas(rows, preserve_index=False)
    elif isinstance(rows, Sequence):
        dataset = Dataset.from_list(list(rows))
    else:
        raise TypeError(f"{name} must be a Dataset, a list of dicts or a DataFrame, not {type(rows).__name__}.")
    missing = [c for c in ROW_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {missing}; rows need {list(ROW_COLUMNS)} (columns present: "
            f"{dataset.column_names}). TextPredictionDataCreator produces them."
        )
    return dataset


def as_neutral_dataset(texts: Any) -> Dataset | None:
    """Neutral texts (a `Dataset` with a `text` column, or a list of strings) as a `Dataset`; `None` stays `None`."""
    if texts is None:
        return None
    if isinstance(texts, Dataset):
        dataset = texts
    elif isinstance(texts, Sequence) and not isinstance(texts, str):
        dataset = Dataset.from_dict({"text": list(texts)})
    else:
        raise TypeError(f"Neutral data must be a Dataset or a list of strings, not {type(texts).__name__}.")
    if "text" not in dataset.column_names:
        raise ValueError(f"Neutral data needs a 'text' column; it has {dataset.column_names}.")
    return dataset


def infer_feature_classes(dataset: Dataset) -> list[str]:
    """The two factual classes in order of first appearance; an error unless there are exactly two."""
    seen: dict[str, None] = {}
    for c in dataset["factual_class"]:
        seen.setdefault(c, None)
    if len(seen) != 2:
        raise ValueError(
            f"Found {len(seen)} factual classes {list(seen)}; a direction separates exactly two. Pass "
            "feature_classes=[positive, negative] and rows of those two classes."
        )
    return list(seen)


def labels_for(dataset: Dataset, feature_classes: Sequence[str]) -> list[float]:
    """+1 for rows of the first class, -1 for the second; an error for rows of any other class."""
    value = {feature_classes[0]: 1.0, feature_classes[1]: -1.0}
    unknown = sorted(set(dataset["factual_class"]) - set(value))
    if unknown:
        raise ValueError(
            f"Rows of class(es) {unknown} are not among feature_classes={list(feature_classes)}; filter them out "
            "or name the two classes to train."
        )
    missing = [c for c in feature_classes if c not in set(dataset["factual_class"])]
    if missing:
        raise ValueError(f"No rows of class(es) {missing}; both feature classes need training rows.")
    return [value[c] for c in dataset["factual_class"]]


class GradientGroups(torch.utils.data.Dataset):
    """
    Rows grouped into fixed groups of `group_size` texts of one transition (factual class → alternative class); one
    group yields one gradient. Groups are drawn once from `seed`, so a group's gradient never changes.

    Each item is a dict with lists `masked`, `factual`, `alternative` and the group's `label` (±1).
    """

    def __init__(self, dataset: Dataset, feature_classes: Sequence[str], group_size: int, seed: int = 0):
        if group_size < 1:
            raise ValueError(f"gradient_batch_size={group_size} must be at least 1.")
        labels = labels_for(dataset, feature_classes)
        by_transition: dict[tuple[str, str], list[int]] = {}
        for i, (f, a) in enumerate(zip(dataset["factual_class"], dataset["alternative_class"], strict=True)):
            by_transition.setdefault((f, a), []).append(i)
        rng = random.Random(seed)
        self.groups: list[list[int]] = []
        self.transitions: dict[tuple[str, str], list[int]] = {}
        """Group indices of each transition `(factual class, alternative class)`."""
        for key in sorted(by_transition):
            indices = by_transition[key]
            rng.shuffle(indices)
            first = len(self.groups)
            self.groups += [indices[i:i + group_size] for i in range(0, len(indices), group_size)]
            self.transitions[key] = list(range(first, len(self.groups)))
        if not self.groups:
            raise ValueError("There are no training rows to group.")
        self.dataset = dataset
        self.columns = {c: dataset[c] for c in ("masked", "factual", "alternative")}
        self.labels = labels

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> dict[str, Any]:
        group = self.groups[index]
        item = {c: [values[i] for i in group] for c, values in self.columns.items()}
        item["label"] = self.labels[group[0]]
        return item


class BalancedTransitionSampler(torch.utils.data.Sampler[int]):
    """
    Order of the gradient groups for one epoch: the transitions take turns (3SG→3PL, 3PL→3SG, 3SG→3PL, ...), and a
    transition with fewer groups is cycled so that every transition contributes as many groups as the largest one.
    Without it a class with fewer rows is seen in fewer steps and its encodings saturate later. The order within a
    transition is reshuffled each epoch from `seed` and the epoch (set by the Trainer), so a resumed run replays it;
    a cycled group's gradient comes from the cache.

    Args:
        groups ([`GradientGroups`]): The training groups.
        seed (`int`, *optional*, defaults to 0): Seed of the orders.
    """

    def __init__(self, groups: GradientGroups, seed: int = 0):
        self.transitions = list(groups.transitions.values())
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.transitions) * max(len(t) for t in self.transitions)

    def __iter__(self):
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        orders = [rng.sample(indices, len(indices)) for indices in self.transitions]
        for i in range(max(len(order) for order in orders)):
            for order in orders:
                yield order[i % len(order)]


def collate_groups(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch of groups: lists of per-group lists, and a label tensor."""
    return {
        "masked": [g["masked"] for g in groups],
        "factual": [g["factual"] for g in groups],
        "alternative": [g["alternative"] for g in groups],
        "label": torch.tensor([g["label"] for g in groups]),
    }
