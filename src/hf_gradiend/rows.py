"""The row format: the columns of a training row, rows in any in-memory form as a `Dataset`, and class labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

from datasets import Dataset, DatasetDict

if TYPE_CHECKING:
    import pandas

__all__ = [
    "ROW_COLUMNS",
    "RowsLike",
    "as_dataset",
    "as_neutral_dataset",
    "infer_feature_classes",
    "is_dataframe",
    "is_per_class",
    "labels_for",
]

ROW_COLUMNS = ("masked", "factual", "alternative", "factual_class", "alternative_class")
"""Columns every training row carries: the masked text, the factual word, the alternative (counterfactual) word,
and the classes of both words."""

RowsLike = Union[Dataset, Sequence[Mapping[str, Any]], Mapping[str, Sequence[Any]], "pandas.DataFrame"]
"""Rows in memory: a `datasets.Dataset`, a list of dicts (one per row), a dict of columns or a pandas DataFrame."""


def is_dataframe(value: Any) -> bool:
    """Whether `value` looks like a pandas DataFrame (checked by its attributes; pandas is not imported)."""
    return hasattr(value, "columns") and hasattr(value, "to_dict")


def as_dataset(rows: RowsLike, name: str = "rows", required: Sequence[str] = ROW_COLUMNS) -> Dataset:
    """
    Rows given in any in-memory form as a `Dataset`, checking that the `required` columns are present.

    Args:
        rows (`RowsLike`): A `datasets.Dataset`, a list of dicts, a dict of columns or a pandas DataFrame.
        name (`str`, *optional*, defaults to `"rows"`): What the rows are, for error messages (e.g. `"train_dataset"`).
        required (`Sequence[str]`, *optional*, defaults to [`ROW_COLUMNS`]): Columns the rows must have; `()` checks
            none.

    Returns:
        `datasets.Dataset`: The rows (a `Dataset` is returned as it is).

    Raises:
        `TypeError`: `rows` is a `DatasetDict` (pass one split) or of an unsupported type.
        `ValueError`: A required column is missing.
    """
    if isinstance(rows, DatasetDict):
        raise TypeError(f"{name} is a DatasetDict; pass one split, e.g. data['train'].")
    if isinstance(rows, Dataset):
        dataset = rows
    elif isinstance(rows, Mapping):
        dataset = Dataset.from_dict(dict(rows))
    elif is_dataframe(rows):
        dataset = Dataset.from_pandas(rows, preserve_index=False)
    elif isinstance(rows, Sequence) and not isinstance(rows, str):
        dataset = Dataset.from_list(list(rows))
    else:
        raise TypeError(f"{name} must be a Dataset, a list of dicts or a DataFrame, not {type(rows).__name__}.")
    missing = [c for c in required if c not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {missing}; rows need {list(required)} (columns present: "
            f"{dataset.column_names}). TextPredictionDataCreator produces them."
        )
    return dataset


def as_neutral_dataset(texts: Dataset | Sequence[str] | None) -> Dataset | None:
    """
    Neutral texts as a `Dataset` with a `text` column.

    Args:
        texts (`Dataset` or `list[str]`, *optional*): A `Dataset` with a `text` column, or a list of strings.

    Returns:
        `datasets.Dataset` or `None`: The texts; `None` stays `None`.
    """
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


def is_per_class(data: Any) -> bool:
    """
    Whether `data` is a dict `{class: rows}` of per-class rows rather than a `DatasetDict` or a dict of columns (a
    dict of columns names at least one of [`ROW_COLUMNS`]).
    """
    return isinstance(data, Mapping) and not isinstance(data, DatasetDict) and not set(ROW_COLUMNS) & set(data)


def infer_feature_classes(dataset: Dataset) -> list[str]:
    """
    The two factual classes of the rows.

    Returns:
        `list[str]`: The two classes in order of first appearance.

    Raises:
        `ValueError`: There are not exactly two classes.
    """
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
    """
    The ±1 label of every row.

    Returns:
        `list[float]`: +1 for rows of the first class, -1 for the second.

    Raises:
        `ValueError`: A row is of another class, or a feature class has no rows.
    """
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
