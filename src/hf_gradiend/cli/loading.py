"""What several sub-commands share: reading neutral texts, a trainer around a saved direction, writing results."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_TABLE_BUILDERS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def load_texts(path: str | None):
    """
    Feature-neutral texts from a `save_to_disk` folder (e.g. `hf-gradiend data`'s `neutral/`), a `.txt` file (one text
    per line) or a `.csv` / `.json(l)` / `.parquet` file with a `text` column; `None` stays `None`.
    """
    if path is None:
        return None
    from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"No neutral data at {path!r}; pass a folder written by `hf-gradiend data` or a file.")
    if file.is_dir():
        data = load_from_disk(str(file))
        if isinstance(data, DatasetDict):
            if len(data) != 1:
                raise ValueError(f"{path!r} holds the splits {list(data)}; pass the folder of one neutral dataset.")
            data = next(iter(data.values()))
        return data
    if file.suffix == ".txt":
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        return Dataset.from_dict({"text": [line for line in lines if line]})
    builder = _TABLE_BUILDERS.get(file.suffix)
    if builder is None:
        raise ValueError(
            f"Cannot read neutral texts from {file.name}: use a folder or a .txt, .csv, .json(l) or .parquet file."
        )
    return load_dataset(builder, data_files=str(file), split="train")


def direction_trainer(
    direction: str,
    output_dir: str | os.PathLike,
    model: str | None = None,
    tokenizer: str | None = None,
    data: str | None = None,
    class_merge_map: Mapping[str, Sequence[str]] | None = None,
    eval_neutral_data: str | None = None,
    **training_kwargs,
):
    """
    A [`GradiendTrainer`] around a saved direction (path or Hub id) and its base model (the one recorded in the
    direction's config unless `model` is given), with the rows of the direction's two classes from `data`.
    """
    from ..compare.loading import as_direction
    from ..training import GradiendTrainer, GradiendTrainingArguments
    from ..training.text_prediction import keep_pair, load_rows, merge_classes

    gradiend = as_direction(direction)
    config = gradiend.config
    base = model or config.base_model_name_or_path
    if not base:
        raise ValueError(f"The direction {direction!r} records no base model; pass --model (its Hub id or path).")
    if not config.feature_classes:
        raise ValueError(f"The direction {direction!r} records no feature classes to evaluate or rewrite.")
    args = GradiendTrainingArguments(
        output_dir=str(output_dir), source=config.source, target=config.target, objective=config.objective,
        report_to="none", **training_kwargs,
    )
    splits = None
    if data is not None:
        splits = load_rows(data, seed=args.seed)
        if class_merge_map:
            splits = merge_classes(splits, class_merge_map)
        splits = keep_pair(splits, config.feature_classes)
    return GradiendTrainer(
        base, args=args, train_dataset=splits, processing_class=tokenizer, model=gradiend,
        feature_classes=config.feature_classes, eval_neutral_data=load_texts(eval_neutral_data),
    )


def local_folder(source: str) -> Path | None:
    """`source` as a folder when it is one on this machine (a saved direction may also be a Hub id)."""
    path = Path(os.path.expanduser(source))
    return path if path.is_dir() else None


def jsonable(value: Any) -> Any:
    """Results as plain JSON values: tensors and numpy values become numbers or lists, other keys strings."""
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # torch / numpy
        return jsonable(value.tolist())
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, tuple):
        return ",".join(map(str, key))
    return str(key)


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write `value` as indented JSON (through [`jsonable`]); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(jsonable(value), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file's value, or `None` when it is missing."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON ({error}).") from None
