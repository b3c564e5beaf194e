"""Scanning a corpus: a batched match function over every text (mapped, or streamed), and its output as columns."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from datasets import Dataset, IterableDataset
from tqdm.auto import tqdm

from .tagging import SpacyTagger, Tagger, describe_tagger


class Scan:
    """How many texts a scan has read."""

    texts: int = 0


def scan_corpus(
    function: Callable[..., Any],
    data: Dataset | IterableDataset,
    scan: Scan,
    tagger: Tagger | None,
    batch_size: int,
    num_proc: int | None,
) -> Iterator[dict[str, Any]]:
    """
    Run a batched map function over a corpus and yield its output batches, counting the texts read in `scan`.

    A `Dataset` is mapped (cached by its fingerprint, the function's `describe()` and the tagger, over `num_proc`
    processes); an `IterableDataset` is read batch by batch and never loaded whole.

    Args:
        function (callable): `(arrow batch, row indices) -> columns`, with a `describe()` method for the cache key.
        data (`Dataset` or `IterableDataset`): The corpus (column `text`).
        scan ([`Scan`]): Counts the texts read.
        tagger (callable, *optional*): The tagger the function uses (part of the cache key).
        batch_size (`int`): Texts per batch.
        num_proc (`int`, *optional*): Processes for `datasets.map`.

    Returns:
        Iterator of `dict[str, Any]`: Output batches, numbers as numpy arrays and strings as lists.
    """
    if isinstance(data, Dataset):
        fingerprint = hashlib.sha256(
            f"{data._fingerprint}|{function.describe()}|{describe_tagger(tagger)}".encode()
        ).hexdigest()[:32]
        reusable = tagger is None or isinstance(tagger, SpacyTagger)
        mapped = data.with_format("arrow").map(
            function, batched=True, batch_size=batch_size, with_indices=True,
            remove_columns=data.column_names, num_proc=num_proc, new_fingerprint=fingerprint,
            load_from_cache_file=reusable, desc="Matching texts",
        )
        scan.texts = len(data)
        for batch in mapped.with_format("arrow").iter(batch_size=100_000):
            yield arrow_columns(batch)
        return
    with tqdm(desc="Matching texts (streamed)", unit=" texts") as progress:  # no length known
        for batch in data.with_format("arrow").iter(batch_size=batch_size):
            size = len(batch)
            indices = list(range(scan.texts, scan.texts + size))
            scan.texts += size
            progress.update(size)
            result = function(batch, indices)
            yield arrow_columns(result) if isinstance(result, pa.Table) else result


def arrow_columns(table: pa.Table) -> dict[str, Any]:
    """An Arrow batch as numpy arrays (numbers) and lists (strings)."""
    return {
        name: column.to_numpy() if pa.types.is_integer(column.type) else column.to_pylist()
        for name, column in zip(table.column_names, table.columns, strict=True)
    }
