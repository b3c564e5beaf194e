"""TextPredictionTrainer: the text-prediction workflow (data in any of its forms → a direction)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict, concatenate_datasets, load_dataset, load_from_disk
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..rows import as_dataset, is_per_class
from .arguments import GradiendTrainingArguments
from .trainer import GradiendTrainer

SPLITS = ("train", "validation", "test")


class TextPredictionTrainer(GradiendTrainer):
    r"""
    The text-prediction trainer of the GRADIEND workflow: a [`GradiendTrainer`] that accepts the data in the forms
    data creation and other tools produce.

    Args:
        model (`str` or `PreTrainedModel`): The *base* language model (Hub id, local path or instance).
        data: One of
            - the `DatasetDict` from [`TextPredictionDataCreator.generate_training_data`] (or one saved with
              `save_to_disk`, given as its path);
            - a `.csv` / `.parquet` / `.json(l)` file of rows (a `split` column selects train / validation / test,
              else a seeded 80/10/10 split is made);
            - a dict `{class: rows}` of per-class rows with `masked` and `factual` columns (and optionally `split`);
              each row's alternative is drawn from the other class's words, seeded, in proportion to their counts.
        eval_neutral_data (`Dataset` or `list[str]`, *optional*): Feature-neutral texts for evaluation.
        target_classes (`list[str]`, *optional*): The two classes, +1 first; inferred when there are exactly two.
        class_merge_map (`dict[str, list[str]]`, *optional*): Merge raw classes first, e.g.
            `{"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]}`; rows whose two merged classes coincide are
            dropped.
        args ([`GradiendTrainingArguments`], *optional*): Training arguments.
        tokenizer (`PreTrainedTokenizerBase`, *optional*): The base model's tokenizer (loaded with it by default).
        kwargs: Passed to [`GradiendTrainer`] (e.g. `callbacks`).

    Example:

    ```python
    >>> trainer = TextPredictionTrainer(model="path/to/smollm2", data=training_data, eval_neutral_data=neutral,
    ...                                 args=GradiendTrainingArguments(output_dir="3sg-3pl", max_steps=100))
    >>> trainer.train()
    ```
    """

    def __init__(
        self,
        model: str | PreTrainedModel,
        data: Any,
        eval_neutral_data: Any = None,
        target_classes: Sequence[str] | None = None,
        class_merge_map: Mapping[str, Sequence[str]] | None = None,
        args: GradiendTrainingArguments | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        **kwargs,
    ):
        seed = args.seed if args is not None else 42
        splits = load_rows(data, seed=seed)
        if class_merge_map:
            splits = merge_classes(splits, class_merge_map)
        target_classes = list(target_classes) if target_classes else infer_pair(splits["train"])
        splits = keep_pair(splits, target_classes)
        super().__init__(
            model, args=args, train_dataset=splits, processing_class=tokenizer, feature_classes=target_classes,
            eval_neutral_data=eval_neutral_data, **kwargs,
        )


def load_rows(data: Any, seed: int = 42) -> DatasetDict:
    """Any supported form of training data as a `DatasetDict` with `train` (and `validation`, `test`) rows."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"No training data at {path}; pass a DatasetDict, a per-class dict or a file.")
        if path.is_dir():
            data = load_from_disk(str(path))
        else:
            builder = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}.get(path.suffix)
            if builder is None:
                raise ValueError(f"Cannot read {path.name}: use a .csv, .parquet, .json or .jsonl file.")
            data = load_dataset(builder, data_files=str(path), split="train")
    if isinstance(data, DatasetDict):
        if "train" not in data:
            raise ValueError(f"The data has no 'train' split (splits: {list(data)}).")
        return DatasetDict({k: as_dataset(v, f"data[{k!r}]") for k, v in data.items() if k in SPLITS})
    if is_per_class(data):  # {class: rows}, not {column: values}
        data = pair_per_class(data, seed)
    dataset = as_dataset(data, "data")
    if "split" in dataset.column_names:
        return DatasetDict({s: dataset.filter(lambda r, s=s: r["split"] == s) for s in SPLITS})
    return split_by_class(dataset, seed)


def split_by_class(dataset: Dataset, seed: int, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> DatasetDict:
    """A seeded train / validation / test split made per factual class, so every split holds every class."""
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[int]] = {s: [] for s in SPLITS}
    by_class: dict[str, list[int]] = {}
    for i, c in enumerate(dataset["factual_class"]):
        by_class.setdefault(c, []).append(i)
    for indices in by_class.values():
        order = rng.permutation(indices).tolist()
        n_val = max(1, round(ratios[1] * len(order))) if len(order) >= 3 else 0
        n_test = max(1, round(ratios[2] * len(order))) if len(order) >= 3 else 0
        chosen["validation"] += order[:n_val]
        chosen["test"] += order[n_val:n_val + n_test]
        chosen["train"] += order[n_val + n_test:]
    return DatasetDict({s: dataset.select(sorted(chosen[s])) for s in SPLITS})


def pair_per_class(per_class: Mapping[str, Any], seed: int) -> Dataset:
    """
    Rows of every class paired with an alternative word from the other classes: per class `c`, the alternative is
    drawn (seeded, in proportion to word counts) from the words of all other classes, in the factual word's case.
    """
    from ..data.pairing import choose_alternatives, match_case

    frames = {c: as_dataset(rows, f"data[{c!r}]", required=()) for c, rows in per_class.items()}
    for c, frame in frames.items():
        missing = [col for col in ("masked", "factual") if col not in frame.column_names]
        if missing:
            raise ValueError(f"Rows of class {c!r} lack {missing}; per-class rows need 'masked' and 'factual'.")
    counts = {c: Counter(w.lower() for w in f["factual"]) for c, f in frames.items()}
    rng = np.random.default_rng(seed)
    out = []
    for c, frame in frames.items():
        others = [o for o in frames if o != c]
        pool = sum((counts[o] for o in others), Counter())
        owner = {w: o for o in others for w in counts[o]}
        words = np.asarray([w.lower() for w in frame["factual"]], dtype=object)
        keys = rng.integers(0, 2**63, size=len(words), dtype=np.uint64)
        chosen = choose_alternatives(words, keys, pool, {}, c, "/".join(others))
        columns = {
            "alternative": [match_case(a, f) for a, f in zip(chosen, frame["factual"], strict=True)],
            "factual_class": [c] * len(frame),
            "alternative_class": [owner[a] for a in chosen],
        }
        for name, values in columns.items():
            frame = frame.remove_columns(name) if name in frame.column_names else frame
            frame = frame.add_column(name, values)
        out.append(frame)
    return concatenate_datasets(out)


def merge_classes(splits: DatasetDict, class_merge_map: Mapping[str, Sequence[str]]) -> DatasetDict:
    """Rename raw classes to merged ones; drop rows whose factual and alternative classes merge into one."""
    raw_to_merged = {}
    for merged, members in class_merge_map.items():
        for raw in members:
            if raw in raw_to_merged:
                raise ValueError(f"Class {raw!r} is in two merged classes ({raw_to_merged[raw]!r}, {merged!r}).")
            raw_to_merged[raw] = merged

    def rename(batch):
        return {
            "factual_class": [raw_to_merged.get(c, c) for c in batch["factual_class"]],
            "alternative_class": [raw_to_merged.get(c, c) for c in batch["alternative_class"]],
        }

    merged = DatasetDict({k: v.map(rename, batched=True) for k, v in splits.items()})
    return DatasetDict({
        k: v.filter(lambda r: r["factual_class"] != r["alternative_class"]) for k, v in merged.items()
    })


def infer_pair(rows: Dataset) -> list[str]:
    """The two classes of the rows (first seen first); an error unless there are exactly two."""
    classes = list(dict.fromkeys(rows["factual_class"]))
    if len(classes) != 2:
        raise ValueError(
            f"The data has {len(classes)} classes {classes}; pass target_classes=[positive, negative] (or merge "
            "classes with class_merge_map) to choose the two a direction separates."
        )
    return classes


def keep_pair(splits: DatasetDict, pair: Sequence[str]) -> DatasetDict:
    """Only rows going between the two classes of `pair`; an error if a class has no training row."""
    wanted = set(pair)
    kept = DatasetDict({
        k: v.filter(lambda r: r["factual_class"] in wanted and r["alternative_class"] in wanted)
        for k, v in splits.items()
    })
    present = set(kept["train"]["factual_class"])
    missing = [c for c in pair if c not in present]
    if missing:
        raise ValueError(
            f"No training rows of class(es) {missing} paired with {sorted(wanted - set(missing))}; classes in the "
            f"data: {sorted(set(splits['train']['factual_class']))}."
        )
    return kept

