"""On-disk cache of gradients: the base model is frozen, so the gradient of a (texts, words) unit never changes."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GradiendError
from .engine import GradientPair

logger = logging.getLogger(__name__)

_DTYPES = {"float32": np.float32, "float16": np.float16}
PRIMITIVES = ("factual", "alternative")
STORED_KINDS = (*PRIMITIVES, "diff")
"""What a cache can hold: the two primitives, or their difference alone when nothing else is read."""


class CacheMismatchError(GradiendError):
    """A cache directory holds gradients of another base model, selection, objective or coordinate set."""


def base_model_fingerprint(model: nn.Module, names: Sequence[str]) -> str:
    """
    Hash of the selected parameters' names, shapes, dtypes and values. Values enter through an exact float64 sum and
    a strided sample of up to 4096 entries per tensor, so hashing a large model stays fast.
    """
    digest = hashlib.sha256()
    named = dict(model.named_parameters(remove_duplicate=False))
    for name in names:
        tensor = named[name].detach()
        flat = tensor.reshape(-1)
        step = max(1, flat.numel() // 4096)
        sample = flat[::step][:4096].float().cpu().numpy().tobytes()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}:{float(flat.double().sum())!r}".encode())
        digest.update(sample)
    return digest.hexdigest()[:20]


def unit_key(masked_texts: Sequence[str], factual: Sequence[str], alternative: Sequence[str]) -> str:
    """Key of one cached unit: a group of texts (or one text) with its factual and alternative words."""
    payload = json.dumps([list(masked_texts), list(factual), list(alternative)], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class GradientCache:
    """
    On-disk store of gradients over a fixed coordinate set, one row per unit (a group of texts, or one text).

    Layout of `directory`: `meta.json` (fingerprint, coordinate count, dtype, stored kinds, capacity), `index.json`
    (unit key → row), and one raw row-major `<kind>.bin` file of shape `(capacity, num_coordinates)` per stored kind
    (open one with `np.memmap(path, dtype, mode="r", shape=(capacity, num_coordinates))` to inspect it). Rows are
    read and written with positioned file reads and writes, so the process holds only the rows in use: reading a
    cache larger than memory never grows the resident set, and growing the cache extends its files in place,
    without copying them. A directory written for another base model, selection, objective, coordinate set, stored
    kinds or dtype is refused, never silently reused.

    Args:
        directory (`str` or `Path`): Where the cache lives.
        fingerprint (`str`): Identity of base weights + selection + objective + kept coordinates.
        num_coordinates (`int`): Length of each stored vector.
        capacity (`int`): Rows to reserve (units that can be stored).
        kinds (`list[str]`): Kinds to store: primitives (`"factual"`, `"alternative"`), or `"diff"` alone (see
            [`kinds_to_store`]).
        dtype (`str`, *optional*, defaults to `"float32"`): `"float32"` or `"float16"` on disk.
    """

    FORMAT = 2
    """Layout version; a directory of another version is refused."""

    def __init__(
        self,
        directory: str | os.PathLike,
        fingerprint: str,
        num_coordinates: int,
        capacity: int,
        kinds: Sequence[str] = PRIMITIVES,
        dtype: str = "float32",
    ):
        if dtype not in _DTYPES:
            raise ValueError(f"gradient_cache_dtype={dtype!r} must be 'float32' or 'float16'.")
        self.directory = Path(directory)
        self.kinds = tuple(k for k in STORED_KINDS if k in set(kinds))
        if not self.kinds or ("diff" in self.kinds and len(self.kinds) > 1):
            raise ValueError(f"A cache stores 'diff' alone or primitives, not {list(kinds)}; see kinds_to_store().")
        self.num_coordinates = int(num_coordinates)
        self.dtype = np.dtype(_DTYPES[dtype])
        self.row_bytes = self.num_coordinates * self.dtype.itemsize
        meta = {
            "format": self.FORMAT, "fingerprint": fingerprint, "num_coordinates": self.num_coordinates,
            "dtype": dtype, "kinds": list(self.kinds),
        }
        meta_path = self.directory / "meta.json"
        if meta_path.exists():
            stored = json.loads(meta_path.read_text())
            differing = [k for k in meta if stored.get(k) != meta[k]]
            if differing:
                raise CacheMismatchError(
                    f"The gradient cache at {self.directory} was written for another set-up ({', '.join(differing)} "
                    f"differ: cached {[stored.get(k) for k in differing]}, now {[meta[k] for k in differing]}). "
                    "Use another gradient_cache_dir, or delete that directory to rebuild it."
                )
            self.capacity = int(stored["capacity"])
            self.index: dict[str, int] = json.loads((self.directory / "index.json").read_text())
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.capacity = 0
            self.index = {}
            self._write_index()
        self._meta = meta
        self._fds = {k: os.open(self.directory / f"{k}.bin", os.O_RDWR | os.O_CREAT, 0o644) for k in self.kinds}
        self._reserve(max(int(capacity), self.capacity))
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __len__(self) -> int:
        return len(self.index)

    def __del__(self):
        self.close()

    def close(self) -> None:
        """Close the cache's files (reopening the directory resumes it)."""
        for fd in getattr(self, "_fds", {}).values():
            os.close(fd)
        self._fds = {}

    @property
    def nbytes(self) -> int:
        """Bytes the cache's reserved rows occupy on disk."""
        return self.capacity * self.row_bytes * len(self.kinds)

    def get(self, key: str) -> GradientPair | None:
        """The stored pair for `key` (tensors of shape `(1, num_coordinates)`, float32; unstored kinds `None`)."""
        row = self.index.get(key)
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        tensors = {}
        for kind, fd in self._fds.items():
            data = os.pread(fd, self.row_bytes, row * self.row_bytes)
            tensors[kind] = torch.from_numpy(np.frombuffer(data, dtype=self.dtype).astype(np.float32))[None]
        return GradientPair(tensors.get("factual"), tensors.get("alternative"), tensors.get("diff"))

    def put(self, key: str, pair: GradientPair) -> None:
        """Store `pair` (each stored kind of shape `(1, num_coordinates)`) under `key`."""
        if key in self.index:
            return
        values = {}
        for kind in self.kinds:
            value = getattr(pair, kind)
            if value is None:
                raise ValueError(f"The cache stores {kind} gradients, but none was computed.")
            if value.numel() != self.num_coordinates:
                raise ValueError(f"Expected {self.num_coordinates} coordinates, got shape {tuple(value.shape)}.")
            values[kind] = value.reshape(-1).detach().cpu().numpy().astype(self.dtype).tobytes()
        if len(self.index) >= self.capacity:
            self._reserve(max(2 * self.capacity, 16))
        row = len(self.index)
        for kind, data in values.items():
            os.pwrite(self._fds[kind], data, row * self.row_bytes)
        self.index[key] = row
        self._write_index()

    def _write_index(self) -> None:
        tmp = self.directory / "index.json.tmp"
        tmp.write_text(json.dumps(self.index))
        tmp.replace(self.directory / "index.json")

    def _reserve(self, capacity: int) -> None:
        """Extend every file to `capacity` rows (sparse on most file systems: no data is copied)."""
        for fd in self._fds.values():
            if os.fstat(fd).st_size < capacity * self.row_bytes:
                os.ftruncate(fd, capacity * self.row_bytes)
        if capacity != self.capacity or not (self.directory / "meta.json").exists():
            self.capacity = capacity
            (self.directory / "meta.json").write_text(json.dumps({**self._meta, "capacity": capacity}))


def kinds_to_store(kinds: Sequence[str]) -> tuple[str, ...]:
    """
    The gradients to compute and store so that `kinds` can be served: `("diff",)` when the difference is all that
    is read (one backward pass of the loss difference, half the cache), else the primitives (`factual`,
    `alternative`) the kinds are built from.
    """
    kinds = set(kinds)
    if kinds == {"diff"}:
        return ("diff",)
    out = set()
    if kinds & {"factual", "diff"}:
        out.add("factual")
    if kinds & {"alternative", "diff"}:
        out.add("alternative")
    return tuple(k for k in PRIMITIVES if k in out)
