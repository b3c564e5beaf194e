"""On-disk cache of gradients: the base model is frozen, so the gradient of a (texts, words) unit never changes."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
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
    Memory-mapped store of factual and alternative gradients over a fixed coordinate set.

    Layout of `directory`: `meta.json` (fingerprint, coordinate count, dtype, capacity), `index.json` (unit key →
    row), and one `<kind>.npy` memory map of shape `(capacity, num_coordinates)` per stored kind. A directory written
    for another base model, selection, objective or coordinate set is refused, never silently reused.

    Args:
        directory (`str` or `Path`): Where the cache lives.
        fingerprint (`str`): Identity of base weights + selection + objective + kept coordinates.
        num_coordinates (`int`): Length of each stored vector.
        capacity (`int`): Rows to reserve (units that can be stored).
        kinds (`list[str]`): Primitives to store (`"factual"`, `"alternative"`).
        dtype (`str`, *optional*, defaults to `"float32"`): `"float32"` or `"float16"` on disk.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        fingerprint: str,
        num_coordinates: int,
        capacity: int,
        kinds: Sequence[str] = PRIMITIVES,
        dtype: str = "float32",
    ):
        if dtype not in ("float32", "float16"):
            raise ValueError(f"gradient_cache_dtype={dtype!r} must be 'float32' or 'float16'.")
        self.directory = Path(directory)
        self.kinds = tuple(k for k in PRIMITIVES if k in set(kinds))
        meta = {
            "fingerprint": fingerprint, "num_coordinates": int(num_coordinates), "dtype": dtype,
            "kinds": list(self.kinds),
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
            self.arrays = {}
            if capacity > self.capacity:
                self._grow(capacity)
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.capacity = int(capacity)
            self.index = {}
            for kind in self.kinds:
                np.lib.format.open_memmap(
                    self.directory / f"{kind}.npy", mode="w+", dtype=_DTYPES[dtype],
                    shape=(self.capacity, num_coordinates),
                ).flush()
            meta_path.write_text(json.dumps({**meta, "capacity": self.capacity}))
            self._write_index()
        self.num_coordinates = int(num_coordinates)
        self.arrays = {
            k: np.load(self.directory / f"{k}.npy", mmap_mode="r+") for k in self.kinds
        }
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __len__(self) -> int:
        return len(self.index)

    @property
    def nbytes(self) -> int:
        """Bytes the cache files occupy on disk."""
        return sum(a.nbytes for a in self.arrays.values())

    def get(self, key: str) -> GradientPair | None:
        """The stored pair for `key` (tensors of shape `(1, num_coordinates)`, float32), or `None`."""
        row = self.index.get(key)
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        tensors = {k: torch.from_numpy(np.asarray(self.arrays[k][row], dtype=np.float32))[None] for k in self.kinds}
        return GradientPair(tensors.get("factual"), tensors.get("alternative"))

    def put(self, key: str, pair: GradientPair) -> None:
        """Store `pair` (each stored kind of shape `(1, num_coordinates)`) under `key`."""
        if key in self.index:
            return
        if len(self.index) >= self.capacity:
            self._grow(max(2 * self.capacity, 16))
        row = len(self.index)
        for kind in self.kinds:
            value = getattr(pair, kind)
            if value is None:
                raise ValueError(f"The cache stores {kind} gradients, but none was computed.")
            self.arrays[kind][row] = value.reshape(-1).detach().cpu().float().numpy()
            self.arrays[kind].flush()
        self.index[key] = row
        self._write_index()

    def _write_index(self) -> None:
        tmp = self.directory / "index.json.tmp"
        tmp.write_text(json.dumps(self.index))
        tmp.replace(self.directory / "index.json")

    def _grow(self, capacity: int) -> None:
        self.arrays = {}  # release the maps before their files are replaced
        for kind in self.kinds:
            old = np.load(self.directory / f"{kind}.npy", mmap_mode="r")
            new = np.lib.format.open_memmap(
                self.directory / f"{kind}.npy.tmp", mode="w+", dtype=old.dtype, shape=(capacity, old.shape[1])
            )
            new[: old.shape[0]] = old
            new.flush()
            del old, new
            shutil.move(self.directory / f"{kind}.npy.tmp", self.directory / f"{kind}.npy")
        self.capacity = capacity
        meta = json.loads((self.directory / "meta.json").read_text())
        (self.directory / "meta.json").write_text(json.dumps({**meta, "capacity": capacity}))
        self.arrays = {k: np.load(self.directory / f"{k}.npy", mmap_mode="r+") for k in self.kinds}


def needed_primitives(kinds: Sequence[str]) -> tuple[str, ...]:
    """The primitive gradients (`factual`, `alternative`) that `kinds` are built from."""
    kinds = set(kinds)
    out = set()
    if kinds & {"factual", "diff"}:
        out.add("factual")
    if kinds & {"alternative", "diff"}:
        out.add("alternative")
    return tuple(k for k in PRIMITIVES if k in out)
