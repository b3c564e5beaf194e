"""Planning a suite: its runs (one per class pair and per merged feature), their names, labels and folders."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SuiteRun:
    """
    One direction of a [`TrainerSuite`].

    Args:
        name (`str`): Folder name under the suite's `output_dir` (e.g. `"3SG_vs_3PL"`, `"number"`).
        label (`str`): Label in comparisons (e.g. `"3SG/3PL"`, `"number"`).
        target_classes (`list[str]`): The two classes, +1 first (merged class names for a merged feature).
        class_merge_map (`dict[str, list[str]]`, *optional*): The merge of raw classes, for a merged feature.
        output_dir (`Path`): Where its direction is saved.
    """

    name: str
    label: str
    target_classes: list[str]
    class_merge_map: dict[str, list[str]] | None = None
    output_dir: Path = field(default_factory=Path)

    @property
    def raw_classes(self) -> list[str]:
        """The data's classes the run reads: its two classes, or the members of its merged classes."""
        if self.class_merge_map is None:
            return list(self.target_classes)
        return [c for members in self.class_merge_map.values() for c in members]

    def describe(self) -> dict[str, Any]:
        """The run as JSON-ready values."""
        return {
            "name": self.name, "label": self.label, "target_classes": list(self.target_classes),
            "class_merge_map": self.class_merge_map, "output_dir": self.name,
        }



def check_classes(classes: Sequence[str] | None, present: list[str]) -> list[str]:
    """
    The classes a suite pairs: `classes` checked against the classes with training rows (`present` when `None`).

    Raises:
        `ValueError`: A class has no training rows, or is listed twice.
    """
    if classes is None:
        return present
    classes = [classes] if isinstance(classes, str) else list(classes)
    unknown = [c for c in classes if c not in present]
    if unknown:
        raise ValueError(f"classes names {unknown}, which have no training rows; the data's classes are {present}.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes={classes} lists a class twice.")
    return classes


def plan_runs(
    classes: list[str],
    pairs: Sequence[Sequence[str]] | None,
    merged_features: Mapping[str, Mapping[str, Sequence[str]]] | None,
    present: list[str],
    output_dir: Path,
) -> list[SuiteRun]:
    """
    The runs of a suite: one per pair (every pair of `classes` unless `pairs` is given), then one per merged feature,
    each with its folder under `output_dir`.

    Args:
        classes (`list[str]`): The classes to pair, in order (the earlier class of a pair is +1).
        pairs (`list[tuple[str, str]]`, *optional*): Exactly these pairs instead of every pair of `classes`.
        merged_features (`dict[str, dict[str, list[str]]]`, *optional*): Feature name → two merged classes.
        present (`list[str]`): The classes with training rows.
        output_dir (`Path`): The suite's folder.

    Returns:
        `list[SuiteRun]`: The runs, with distinct names and labels.

    Raises:
        `ValueError`: A pair or merged feature is malformed or names a class without rows, two runs share a name or
            label, or there is no run at all.
    """
    if pairs is None:
        pairs = list(itertools.combinations(classes, 2))
    runs = []
    for pair in pairs:
        pair = list(pair)
        if len(pair) != 2 or pair[0] == pair[1] or not all(isinstance(c, str) for c in pair):
            raise ValueError(f"The pair {pair!r} must name two different classes, +1 first.")
        unknown = [c for c in pair if c not in present]
        if unknown:
            raise ValueError(f"The pair {pair} names {unknown}, which have no training rows (classes: {present}).")
        runs.append(SuiteRun(folder_name(f"{pair[0]}_vs_{pair[1]}"), "/".join(pair), pair))
    for feature, merge_map in (merged_features or {}).items():
        if not isinstance(merge_map, Mapping) or len(merge_map) != 2:
            raise ValueError(
                f"merged_features[{feature!r}] must map exactly two merged classes to raw classes, e.g. "
                "{'singular': ['1SG', '3SG'], 'plural': ['1PL', '3PL']}; got "
                f"{list(merge_map) if isinstance(merge_map, Mapping) else merge_map!r}."
            )
        merge_map = {str(k): [v] if isinstance(v, str) else list(v) for k, v in merge_map.items()}
        members = [c for values in merge_map.values() for c in values]
        unknown = [c for c in members if c not in present]
        if unknown:
            raise ValueError(
                f"merged_features[{feature!r}] names {unknown}, which have no training rows (classes: {present})."
            )
        if len(set(members)) != len(members):
            raise ValueError(f"merged_features[{feature!r}] puts a class into both merged classes: {merge_map}.")
        runs.append(SuiteRun(folder_name(str(feature)), str(feature), list(merge_map), merge_map))
    if not runs:
        raise ValueError("The suite has no runs: give at least two classes, pairs or merged_features.")
    for key in ("name", "label"):
        seen = [getattr(run, key) for run in runs]
        repeated = sorted({v for v in seen if seen.count(v) > 1})
        if repeated:
            raise ValueError(f"Two runs share the {key} {repeated}; rename the classes or merged features.")
    for run in runs:
        run.output_dir = output_dir / run.name
    return runs


def folder_name(name: str) -> str:
    """A run's name as a folder name (anything but letters, digits, `.`, `_` and `-` becomes `_`)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    if not cleaned:
        raise ValueError(f"Cannot make a folder name of the run {name!r}; use letters or digits in class names.")
    return cleaned
