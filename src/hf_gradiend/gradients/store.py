"""Gradients of units (a group of texts, or one text) over a direction's coordinates, served from a cache."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from .cache import GradientCache, kinds_to_store, unit_key
from .engine import GradientEngine, GradientPair

logger = logging.getLogger(__name__)

PER_TEXT_BYTES = 2**30
"""Memory one batched per-text pass may spend on its gradients (texts × coordinates × kinds × 4 bytes); larger
batches are split, so evaluating a direction over all weights of a large model stays within memory."""


class GradientStore:
    """
    Serves factual/alternative/diff gradients restricted to `coordinates`, computing each unit once when a `cache` is
    given and reading it back afterwards (across epochs, evaluations, seeds and pruning passes).

    Args:
        engine ([`GradientEngine`]): Computes gradients on a miss.
        kinds (`list[str]`): Gradient kinds that will be asked for (`factual`, `alternative`, `diff`).
        coordinates (`torch.Tensor`, *optional*): Base-global coordinates to keep; all when `None`.
        cache ([`GradientCache`], *optional*): Where computed units are kept.
    """

    def __init__(
        self,
        engine: GradientEngine,
        kinds: Sequence[str],
        coordinates: torch.Tensor | None = None,
        cache: GradientCache | None = None,
    ):
        self.engine = engine
        self.stored = kinds_to_store(kinds)
        self.coordinates = coordinates
        self.cache = cache
        if cache is not None and tuple(cache.kinds) != self.stored:
            raise ValueError(
                f"The gradient cache stores {list(cache.kinds)} but {list(self.stored)} are needed; open the "
                "cache with kinds=kinds_to_store(kinds)."
            )

    def group(self, masked: Sequence[str], factual: Sequence[str], alternative: Sequence[str]) -> GradientPair:
        """The mean gradient of one group of texts, shape `(1, k)` per kind."""
        key = unit_key(masked, factual, alternative) if self.cache is not None else None
        if key is not None:
            cached = self.cache.get(key)
            if cached is not None:
                return _to(cached, self.engine.device)
        pair = self.engine.gradients(masked, factual, alternative, kinds=self.stored, coordinates=self.coordinates)
        if key is not None:
            self.cache.put(key, pair)
        return pair

    def per_text(
        self, masked: Sequence[str], factual: Sequence[str], alternative: Sequence[str]
    ) -> GradientPair:
        """One gradient per text, shape `(len(texts), k)` per kind; cached texts are read, the rest computed."""
        keys = [unit_key([m], [f], [a]) for m, f, a in zip(masked, factual, alternative, strict=True)]
        found: dict[int, GradientPair] = {}
        if self.cache is not None:
            for i, key in enumerate(keys):
                cached = self.cache.get(key)
                if cached is not None:
                    found[i] = _to(cached, self.engine.device)
        missing = [i for i in range(len(keys)) if i not in found]
        step = max(1, PER_TEXT_BYTES // self._per_text_bytes())
        for start in range(0, len(missing), step):
            chunk = missing[start:start + step]
            computed = self.engine.gradients(
                [masked[i] for i in chunk], [factual[i] for i in chunk], [alternative[i] for i in chunk],
                kinds=self.stored, per_text=True, coordinates=self.coordinates,
            )
            for j, i in enumerate(chunk):
                rows = (computed.factual, computed.alternative, computed.diff)
                pair = GradientPair(*(None if t is None else t[j:j + 1] for t in rows))
                found[i] = pair
                if self.cache is not None:
                    self.cache.put(keys[i], pair)
        stack = (lambda kind: torch.cat([getattr(found[i], kind) for i in range(len(keys))]))  # noqa: E731
        return GradientPair(*(stack(k) if k in self.stored else None for k in ("factual", "alternative", "diff")))

    def _per_text_bytes(self) -> int:
        """Bytes one text adds to a batched per-text pass: its kept gradients, or the largest full weight."""
        selection = self.engine.selection
        if self.coordinates is None:
            return 4 * selection.num_coordinates * max(1, len(self.stored))
        return 4 * max(self.coordinates.numel() * max(1, len(self.stored)), max(selection.numels))


def _to(pair: GradientPair, device: torch.device) -> GradientPair:
    return GradientPair(*(None if t is None else t.to(device) for t in (pair.factual, pair.alternative, pair.diff)))
