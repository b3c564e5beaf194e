"""A square matrix with one label per row and column: what the comparison functions return."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LabelledMatrix:
    """
    A pairwise comparison of labelled directions.

    Args:
        labels (`tuple[str, ...]`): One label per row (and column), in input order.
        values (`torch.Tensor` of shape `(len(labels), len(labels))`): The pairwise values; `int64` for counts,
            `float64` otherwise. Symmetric.
        measure (`str`): What the values are: `"intersection"`, `"intersection_frac"`, `"cosine"`, `"spearman"` or
            `"topk_overlap"`.
        part (`str`, *optional*): The importance part the values were computed from, e.g. `"decoder-weight"`.
        k (`int` or `float`, *optional*): The top-k size, for overlap measures.

    Example:

    ```python
    >>> overlap = topk_overlap([a, b], k=1000)
    >>> overlap["3SG/3PL", "1SG/1PL"]
    0.42
    >>> overlap.to_pandas()  # needs pandas
    ```
    """

    labels: tuple[str, ...]
    values: torch.Tensor
    measure: str
    part: str | None = None
    k: int | float | None = None

    def __post_init__(self):
        object.__setattr__(self, "labels", tuple(self.labels))
        size = len(self.labels)
        if tuple(self.values.shape) != (size, size):
            raise ValueError(f"values has shape {tuple(self.values.shape)} but there are {size} labels.")
        if len(set(self.labels)) != size:
            raise ValueError(f"Labels must be unique, got {list(self.labels)}.")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: tuple[str, str]) -> int | float:
        """The value for a pair of labels, e.g. `matrix["3SG/3PL", "1SG/1PL"]`."""
        if not (isinstance(key, tuple) and len(key) == 2):
            raise TypeError(f"Index a LabelledMatrix with a pair of labels, e.g. matrix[{self.labels[0]!r}, ...].")
        row, column = (self._index(label) for label in key)
        return self.values[row, column].item()

    def to_dict(self) -> dict[str, dict[str, int | float]]:
        """Nested plain dict `{row_label: {column_label: value}}` (JSON-serialisable)."""
        rows = self.values.tolist()
        return {a: dict(zip(self.labels, row, strict=True)) for a, row in zip(self.labels, rows, strict=True)}

    def to_pandas(self):
        """The matrix as a `pandas.DataFrame` indexed by label on both axes. Needs pandas (the `data` extra)."""
        try:
            import pandas
        except ImportError as error:
            raise ImportError("to_pandas() needs pandas: pip install 'hf-gradiend[data]'.") from error
        return pandas.DataFrame(self.values.numpy(), index=list(self.labels), columns=list(self.labels))

    def __str__(self) -> str:
        counts = not self.values.is_floating_point()
        cells = [[str(v) if counts else f"{v:.3f}" for v in row] for row in self.values.tolist()]
        width = max([len(label) for label in self.labels] + [len(c) for row in cells for c in row])
        lines = [" " * width + " " + " ".join(label.rjust(width) for label in self.labels)]
        for label, row in zip(self.labels, cells, strict=True):
            lines.append(label.ljust(width) + " " + " ".join(c.rjust(width) for c in row))
        return "\n".join(lines)

    def _index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise KeyError(f"No label {label!r}; labels are {list(self.labels)}.") from None
