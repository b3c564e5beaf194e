"""Base corpora: the bundled WordNet sentences, and any text source as a `datasets` table with one `text` column."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
from datasets import Dataset, DatasetDict, IterableDataset, IterableDatasetDict
from datasets.table import InMemoryTable

from ..rows import as_dataset, is_dataframe

BUNDLED = {"wordnet": "wordnet_examples.txt"}
"""Corpora shipped with the package, by name."""

FILE_BUILDERS = {
    ".txt": "text", ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet",
}

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[^\W\d_a-z])|\n+")


def bundled_corpus_path(name: str = "wordnet") -> Path:
    """
    Path of a bundled corpus file. `"wordnet"`: 34,761 usage-example sentences from WordNet 3.0 (Princeton
    University; licence in `resources/WORDNET_LICENSE` beside it).
    """
    if name not in BUNDLED:
        raise ValueError(f"No bundled corpus {name!r}; bundled corpora: {sorted(BUNDLED)}.")
    return Path(str(resources.files("hf_gradiend") / "resources" / BUNDLED[name]))


def load_wordnet() -> Dataset:
    """
    The bundled WordNet example sentences as an in-memory `Dataset` with column `text`.

    Example:

    ```python
    >>> from hf_gradiend.data import load_wordnet
    >>> load_wordnet()[0]["text"]
    "'I hate you,' she burst out"
    ```
    """
    lines = bundled_corpus_path("wordnet").read_text(encoding="utf-8").splitlines()
    return Dataset(InMemoryTable(pa.table({"text": pa.array([line for line in lines if line.strip()], pa.string())})))


def split_into_sentences(text: str) -> list[str]:
    """
    A rule-based sentence splitter: breaks after `.`, `!` or `?` (and closing quotes) followed by space and an
    upper-case letter, and at line breaks. Pass a callable to [`load_base_data`] for a better one.
    """
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def load_base_data(
    base_data: Any,
    text_column: str = "text",
    split: str = "train",
    hf_config: str | None = None,
    streaming: bool = False,
    base_max_size: int | None = None,
    split_sentences: bool | Callable[[str], list[str]] = False,
    num_proc: int | None = None,
) -> Dataset | IterableDataset:
    """
    Any text source as a `Dataset` (or `IterableDataset`) whose only column is `text`.

    Args:
        base_data: `"wordnet"` (bundled), a `Dataset`/`IterableDataset`/`DatasetDict`, a list of strings, a dict of
            columns, a pandas DataFrame, a local `.txt`/`.csv`/`.tsv`/`.json`/`.jsonl`/`.parquet` file, a directory
            written by `save_to_disk`, or a Hub dataset id (the only case that may use the network).
        text_column (`str`): Column holding the texts (files with one text per line have `text`).
        split (`str`): Split of a `DatasetDict` or Hub dataset.
        hf_config (`str`, *optional*): Hub dataset configuration name.
        streaming (`bool`): Stream files and Hub datasets instead of loading them.
        base_max_size (`int`, *optional*): Keep only the first this many texts.
        split_sentences (`bool` or callable): Split texts into sentences (built-in rules, or your callable).
        num_proc (`int`, *optional*): Processes for sentence splitting.

    Returns:
        `Dataset` or `IterableDataset` with the single column `text`.
    """
    data = _as_datasets_object(base_data, text_column, split, hf_config, streaming)
    columns = data.column_names
    if columns is None and isinstance(data, IterableDataset):
        first = next(iter(data.take(1)), None)
        columns = list(first) if first is not None else [text_column]
    if text_column not in columns:
        raise ValueError(
            f"base_data has no column text_column={text_column!r}; its columns are {list(columns)}. Pass "
            "text_column= naming the column that holds the texts."
        )
    data = data.select_columns([text_column])
    if text_column != "text":
        data = data.rename_column(text_column, "text")
    if base_max_size is not None:
        if base_max_size < 1:
            raise ValueError(f"base_max_size={base_max_size} must be at least 1 (or None for all texts).")
        data = data.take(base_max_size) if isinstance(data, IterableDataset) else data.select(
            range(min(base_max_size, len(data)))
        )
    if isinstance(data, Dataset) and len(data) == 0:
        raise ValueError("base_data is empty (0 texts); pass a corpus with texts, e.g. base_data='wordnet'.")
    if split_sentences:
        splitter = split_into_sentences if split_sentences is True else split_sentences
        if not callable(splitter):
            raise TypeError(f"split_sentences={split_sentences!r} must be a bool or a callable text -> sentences.")
        kwargs = {"num_proc": num_proc, "desc": "Splitting sentences"} if isinstance(data, Dataset) else {}
        data = data.map(_SentenceSplitter(splitter), batched=True, **kwargs)
    return data


def _as_datasets_object(base_data, text_column, split, hf_config, streaming) -> Dataset | IterableDataset:
    """The corpus as one dataset: a split of a dataset dict, texts in memory, or a bundled, local or Hub corpus."""
    if isinstance(base_data, IterableDataset):
        return base_data
    if isinstance(base_data, DatasetDict | IterableDatasetDict):
        if split not in base_data:
            raise ValueError(f"base_data has the splits {list(base_data)}, not split={split!r}; pass split=.")
        return base_data[split]
    if isinstance(base_data, Dataset | Mapping) or is_dataframe(base_data):  # rows in memory
        return as_dataset(base_data, "base_data", required=())
    if isinstance(base_data, str | Path):
        return _load_named(str(base_data), text_column, split, hf_config, streaming)
    if isinstance(base_data, Sequence):
        return _texts_dataset(base_data, text_column)
    raise TypeError(
        f"base_data of type {type(base_data).__name__} is not supported; pass 'wordnet', a Dataset, a list of "
        "strings, a DataFrame, a file path or a Hub dataset id."
    )


def _texts_dataset(texts: Sequence[str], text_column: str) -> Dataset:
    """A list of strings as a one-column `Dataset`."""
    try:
        column = pa.array(texts, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        bad = next(t for t in texts if not isinstance(t, str))
        raise TypeError(f"base_data lists must hold strings only; found {bad!r} ({type(bad).__name__}).") from None
    # A fresh fingerprint: hashing a million in-memory texts costs more than matching them.
    return Dataset(InMemoryTable(pa.table({text_column: column})), fingerprint=uuid.uuid4().hex)


def _load_named(name: str, text_column, split, hf_config, streaming) -> Dataset | IterableDataset:
    """A bundled corpus, a `save_to_disk` directory, a local file or a Hub dataset id."""
    from datasets import load_dataset, load_from_disk

    if name in BUNDLED:
        return load_wordnet().rename_column("text", text_column) if text_column != "text" else load_wordnet()
    path = Path(name).expanduser()
    if path.is_dir():
        loaded = load_from_disk(str(path))
        return _as_datasets_object(loaded, text_column, split, hf_config, streaming)
    if path.is_file():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(f"Cannot read {path} (suffix {path.suffix!r}); supported: {sorted(FILE_BUILDERS)}.")
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        return load_dataset(builder, data_files=str(path), split="train", streaming=streaming, **kwargs)
    if path.suffix.lower() in FILE_BUILDERS or name.startswith((".", "/", "~")):
        raise ValueError(f"base_data={name!r} looks like a file path, but no such file exists.")
    return load_dataset(name, hf_config, split=split, streaming=streaming)


class _SentenceSplitter:
    """Batched map function: each text becomes its sentences (other columns are dropped)."""

    def __init__(self, splitter: Callable[[str], list[str]]):
        self.splitter = splitter

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        return {"text": [s for text in batch["text"] if text for s in self.splitter(text)]}
