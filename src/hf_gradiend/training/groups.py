"""The rows a trainer reads: its splits and classes checked, fixed groups of texts per gradient, the balanced
transition order and the collator."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from datasets import Dataset, DatasetDict

from ..rows import RowsLike, as_dataset, infer_feature_classes, labels_for

if TYPE_CHECKING:
    from ..modeling_gradiend import GradiendModel


def split_training_data(
    train_dataset: RowsLike | DatasetDict | None, eval_dataset: RowsLike | None
) -> tuple[DatasetDict | None, Dataset | None, Dataset | None]:
    """
    The training and validation rows a trainer was given, as `Dataset`s.

    Args:
        train_dataset (`RowsLike` or `DatasetDict`, *optional*): Training rows, or a `DatasetDict` whose `train` and
            `validation` splits are used.
        eval_dataset (`RowsLike`, *optional*): Validation rows (instead of a `DatasetDict`'s `validation` split).

    Returns:
        `(data, train_rows, eval_rows)`: the `DatasetDict` (`None` unless one was given) and the two sets of rows
        (`None` where not given).
    """
    data = train_dataset if isinstance(train_dataset, DatasetDict) else None
    if data is not None:
        eval_dataset = eval_dataset if eval_dataset is not None else data.get("validation")
        train_dataset = data["train"]
    train_rows = as_dataset(train_dataset, "train_dataset") if train_dataset is not None else None
    eval_rows = as_dataset(eval_dataset, "eval_dataset") if eval_dataset is not None else None
    return data, train_rows, eval_rows


def resolve_feature_classes(
    feature_classes: Sequence[str] | None,
    model: GradiendModel | None,
    train_rows: Dataset | None,
    eval_rows: Dataset | None,
) -> list[str]:
    """
    The two classes a trainer separates, +1 first: `feature_classes`, else those of the direction continued, else the
    two classes of the training rows; validation rows of any other class are an error.

    Returns:
        `list[str]`: The two classes.
    """
    if model is not None:
        feature_classes = feature_classes or model.config.feature_classes
    if feature_classes is None:
        if train_rows is None:
            raise ValueError("Pass feature_classes=[positive, negative] or training rows to infer them from.")
        feature_classes = infer_feature_classes(train_rows)
    feature_classes = list(feature_classes)
    if eval_rows is not None:
        labels_for(eval_rows, feature_classes)  # fail early on foreign classes
    return feature_classes


def training_groups(
    train_rows: Dataset | None, feature_classes: Sequence[str], group_size: int, seed: int
) -> GradientGroups | None:
    """
    The training rows in [`GradientGroups`] of `group_size` texts; `None` without training rows.

    Raises:
        `ValueError`: There are fewer rows than one group holds.
    """
    if train_rows is None:
        return None
    if len(train_rows) < group_size:
        raise ValueError(
            f"There are {len(train_rows)} training rows, fewer than one gradient group "
            f"(gradient_batch_size={group_size}). Add rows or lower gradient_batch_size."
        )
    return GradientGroups(train_rows, feature_classes, group_size, seed)


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
