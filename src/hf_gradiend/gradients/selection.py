"""Which base-model weights a direction covers, and where each sits in the flat gradient vector."""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ParameterMismatchError
from .objectives import output_embeddings


@dataclass(frozen=True)
class ParameterSelection:
    """
    Ordered selection of base parameters whose gradients are concatenated into one vector.

    Coordinate `i` of the vector is element `i - offsets[j]` of the flattened parameter `names[j]`. These are the
    *base-global* coordinates of a direction: pruning keeps a subset of them, so differently pruned directions of
    the same selection compare coordinate by coordinate.

    Args:
        names (`tuple[str, ...]`): Parameter names as in `model.named_parameters()`.
        shapes (`tuple[tuple[int, ...], ...]`): The parameters' shapes.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if len(self.names) != len(self.shapes):
            raise ValueError(f"{len(self.names)} names but {len(self.shapes)} shapes in a ParameterSelection.")
        if not self.names:
            raise ValueError("A ParameterSelection needs at least one parameter.")

    @property
    def numels(self) -> list[int]:
        return [int(torch.Size(s).numel()) for s in self.shapes]

    @property
    def offsets(self) -> list[int]:
        offsets, total = [], 0
        for n in self.numels:
            offsets.append(total)
            total += n
        return offsets

    @property
    def num_coordinates(self) -> int:
        return sum(self.numels)

    @property
    def fingerprint(self) -> str:
        """Hash of names and shapes; equal fingerprints mean the same coordinate layout."""
        text = "\n".join(f"{n}:{tuple(s)}" for n, s in zip(self.names, self.shapes, strict=True))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        """The selected parameters of `model`, in order, after checking the layout matches."""
        self.check(model)
        named = dict(model.named_parameters(remove_duplicate=False))
        return [named[n] for n in self.names]

    def check(self, model: nn.Module) -> None:
        """
        Raise [`ParameterMismatchError`] naming the first selected parameter that `model` lacks or shapes otherwise.
        """
        named = dict(model.named_parameters(remove_duplicate=False))
        for name, shape in zip(self.names, self.shapes, strict=True):
            if name not in named:
                close = difflib.get_close_matches(name, list(named), n=3)
                raise ParameterMismatchError(
                    f"The base model has no parameter {name!r} (closest: {close}). The direction was learned on "
                    "another architecture; load the base model it was trained on."
                )
            if tuple(named[name].shape) != tuple(shape):
                raise ParameterMismatchError(
                    f"Parameter {name!r} has shape {tuple(named[name].shape)} in the base model but {tuple(shape)} "
                    "in the direction. Load the base model the direction was trained on."
                )

    def split(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a vector (or a `[..., num_coordinates]` batch) into per-parameter tensors in the base shapes."""
        if flat.shape[-1] != self.num_coordinates:
            raise ValueError(f"Expected {self.num_coordinates} coordinates, got shape {tuple(flat.shape)}.")
        lead = flat.shape[:-1]
        pieces = torch.split(flat, self.numels, dim=-1)
        return {n: p.reshape(*lead, *s) for n, p, s in zip(self.names, pieces, self.shapes, strict=True)}

    def locate(self, coordinates: torch.Tensor) -> list[tuple[str, int]]:
        """Map base-global coordinates to `(parameter name, flat index inside that parameter)`."""
        offsets = torch.tensor(self.offsets)
        coordinates = torch.as_tensor(coordinates).reshape(-1).cpu()
        if coordinates.numel() and (coordinates.min() < 0 or coordinates.max() >= self.num_coordinates):
            raise ValueError(f"Coordinates must lie in [0, {self.num_coordinates}).")
        which = torch.searchsorted(offsets, coordinates, right=True) - 1
        return [(self.names[j], int(c - offsets[j])) for j, c in zip(which.tolist(), coordinates, strict=True)]


def head_parameter_names(model: nn.Module) -> set[str]:
    """
    Names of the prediction head's parameters: everything outside the base (backbone) sub-module, plus the input
    embedding when the output embedding is tied to it.
    """
    names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    prefix = getattr(model, "base_model_prefix", "")
    backbone = getattr(model, prefix, None) if prefix else None
    if isinstance(backbone, nn.Module) and backbone is not model:
        inside = {f"{prefix}.{n}" for n, _ in backbone.named_parameters(remove_duplicate=False)}
        head = names - inside
    else:
        head = set()
    output = output_embeddings(model)
    if output is not None and getattr(output, "weight", None) is not None:
        head |= {n for n, p in model.named_parameters(remove_duplicate=False) if p is output.weight}
    return head


def select_parameters(
    model: nn.Module, params: str | Sequence[str] | None = None, include_head: bool = False
) -> ParameterSelection:
    """
    Select base parameters by name globs.

    Args:
        model (`nn.Module`): The base model.
        params (`str` or `list[str]`, *optional*):
            `fnmatch` globs over parameter names, e.g. `["*.layers.1[01].*"]`; `None` selects every parameter.
        include_head (`bool`, *optional*, defaults to `False`):
            Keep the prediction head (and an output embedding tied to the input embedding), excluded by default.

    Returns:
        [`ParameterSelection`] in the model's parameter order.

    Example:

    ```python
    >>> selection = select_parameters(model, ["model.layers.*.mlp.*"])
    ```
    """
    patterns = [params] if isinstance(params, str) else list(params or [])
    excluded = set() if include_head else head_parameter_names(model)
    candidates = [(n, p) for n, p in model.named_parameters() if n not in excluded]
    all_names = [n for n, _ in model.named_parameters()]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(n, pattern) for n, _ in candidates):
            close = difflib.get_close_matches(pattern, all_names, n=5, cutoff=0.3)
            hint = " (it only matches prediction-head weights; pass include_head=True)" if any(
                fnmatch.fnmatchcase(n, pattern) for n in all_names
            ) else ""
            raise ValueError(
                f"The parameter glob {pattern!r} matches no parameter of {type(model).__name__}{hint}. "
                f"Close names: {close}. Globs use fnmatch syntax over names from model.named_parameters()."
            )
    chosen = [(n, p) for n, p in candidates if not patterns or _matches_any(n, patterns)]
    if not chosen:
        raise ValueError(f"No parameter of {type(model).__name__} is selected; pass params= globs that match.")
    return ParameterSelection(tuple(n for n, _ in chosen), tuple(tuple(p.shape) for _, p in chosen))


def _matches_any(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
