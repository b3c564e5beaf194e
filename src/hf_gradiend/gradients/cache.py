"""On-disk cache of gradients: the base model is frozen, so the gradient of a (texts, words) unit never changes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

try:
    import fcntl
except ImportError:  # not on Windows: one process per cache directory there
    fcntl = None

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

    Layout of `directory`: `meta.json` (format, fingerprint, coordinate count, dtype, stored kinds), `index.txt` (the
    unit keys, one per line: line `i` is row `i`), and one raw row-major `<kind>.bin` file of `num_coordinates`
    values per row for each stored kind (inspect one with `np.memmap(path, dtype, mode="r").reshape(-1,
    num_coordinates)`). Rows are read and written with positioned file reads and writes, so the process holds only
    the rows in use: reading a cache larger than memory never grows the resident set, and growing the cache extends
    its files in place. A put appends one line to the index, so storing n units costs O(n), not O(n²).

    Several processes (the ranks of a `torchrun` job, or two runs) can share a directory: a put takes an exclusive
    lock on the index, picks up the keys others appended, and writes its row before its key, so a reader never sees
    a key without its row, and a unit is stored once. A directory written for another base model, selection,
    objective, coordinate set, stored kinds, dtype or format is refused, never silently reused.

    Args:
        directory (`str` or `Path`): Where the cache lives.
        fingerprint (`str`): Identity of base weights + selection + objective + kept coordinates.
        num_coordinates (`int`): Length of each stored vector.
        capacity (`int`): Rows to reserve (units that can be stored before the files grow).
        kinds (`list[str]`): Kinds to store: primitives (`"factual"`, `"alternative"`), or `"diff"` alone (see
            [`kinds_to_store`]).
        dtype (`str`, *optional*, defaults to `"float32"`): `"float32"` or `"float16"` on disk.
    """

    FORMAT = 3
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
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f"meta.json.{os.getpid()}.tmp"  # one name per process: creators may race
            tmp.write_text(json.dumps(meta))
            tmp.replace(meta_path)
        self.index: dict[str, int] = {}
        self._index_bytes = 0  # bytes of index.txt already read into self.index
        self._index_fd = os.open(self.directory / "index.txt", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._fds = {k: os.open(self.directory / f"{k}.bin", os.O_RDWR | os.O_CREAT, 0o644) for k in self.kinds}
        with self._locked():
            self._refresh()
            self._reserve(max(int(capacity), len(self.index)))
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: str) -> bool:
        return key in self.index or key in self._refresh()

    def __len__(self) -> int:
        return len(self._refresh())

    def __del__(self):
        self.close()

    def close(self) -> None:
        """Close the cache's files (reopening the directory resumes it)."""
        for fd in [*getattr(self, "_fds", {}).values(), getattr(self, "_index_fd", None)]:
            if fd is not None:
                os.close(fd)
        self._fds, self._index_fd = {}, None

    @property
    def capacity(self) -> int:
        """Rows the files hold room for (they grow as units are put)."""
        return min(os.fstat(fd).st_size for fd in self._fds.values()) // self.row_bytes

    @property
    def nbytes(self) -> int:
        """Bytes the cache's reserved rows occupy on disk."""
        return self.capacity * self.row_bytes * len(self.kinds)

    def get(self, key: str) -> GradientPair | None:
        """The stored pair for `key` (tensors of shape `(1, num_coordinates)`, float32; unstored kinds `None`)."""
        row = self.index.get(key)
        if row is None:
            row = self._refresh().get(key)  # another process may have stored it
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
        """Store `pair` (each stored kind of shape `(1, num_coordinates)`) under `key` (one line, no newline)."""
        if "\n" in key:
            raise ValueError(f"A cache key is one line; {key!r} holds a newline.")
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
        with self._locked():
            if key in self._refresh():
                return
            if os.fstat(self._index_fd).st_size > self._index_bytes:
                os.ftruncate(self._index_fd, self._index_bytes)  # a line cut short by a crash: its row is reused
            row = len(self.index)
            self._reserve(row + 1)
            for kind, data in values.items():
                os.pwrite(self._fds[kind], data, row * self.row_bytes)
            line = (key + "\n").encode()
            os.write(self._index_fd, line)  # after the row: a key is never visible before its data
            self.index[key] = row
            self._index_bytes += len(line)

    def _refresh(self) -> dict[str, int]:
        """Read the keys appended to `index.txt` since the last read (complete lines only); returns the index."""
        size = os.fstat(self._index_fd).st_size
        if size > self._index_bytes:
            tail = os.pread(self._index_fd, size - self._index_bytes, self._index_bytes)
            complete = tail[: tail.rfind(b"\n") + 1]
            for key in complete.decode().splitlines():
                self.index.setdefault(key, len(self.index))
            self._index_bytes += len(complete)
        return self.index

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock on the index across processes (a no-op where `fcntl` is missing)."""
        if fcntl is None:
            yield
            return
        fcntl.flock(self._index_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._index_fd, fcntl.LOCK_UN)

    def _reserve(self, rows: int) -> None:
        """Make room for `rows` rows, doubling (sparse on most file systems: no data is copied). Holds the lock."""
        capacity = self.capacity
        if rows <= capacity:
            return
        size = max(rows, 2 * capacity, 16) * self.row_bytes
        for fd in self._fds.values():
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)


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
