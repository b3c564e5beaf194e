"""Per-text gradients from one batched forward and one backward pass per loss.

Texts in a batch do not interact in a language model's forward pass, so the gradient of the *summed* loss with
respect to a layer's output, restricted to one text's rows, is that text's own output gradient. Each selected weight's
per-text gradient then follows from the layer's input and that output gradient (the same products autograd would
form, kept apart per text): `nn.Linear` and GPT-2's `Conv1D` weights and biases, `nn.Embedding` rows, and LayerNorm /
RMSNorm scales and shifts. Other layer types are not covered; the engine then falls back to one pass per text.

The same products give a batch's summed gradient over a *subset* of coordinates without forming any full weight
gradient: for a sparse subset of a weight matrix only the kept (row, column) products are formed, so the backward
pass stops at the layers' outputs and a pruned direction's gradients cost a fraction of autograd's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.nn import functional as F


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    module_name, _, attr = name.rpartition(".")
    return (model.get_submodule(module_name) if module_name else model), attr


def _is_conv1d(module: nn.Module) -> bool:
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf")


def _rms_eps(module: nn.Module) -> float | None:
    if not type(module).__name__.endswith("RMSNorm"):
        return None
    for attr in ("variance_epsilon", "eps", "epsilon"):
        value = getattr(module, attr, None)
        if isinstance(value, float):
            return value
    return None


def supports(module: nn.Module, attr: str) -> bool:
    """Whether the per-text gradient of `module.<attr>` can be formed from its input and output gradient."""
    if isinstance(module, nn.Linear) or _is_conv1d(module):
        return attr in ("weight", "bias")
    if isinstance(module, nn.Embedding):
        return attr == "weight" and module.max_norm is None and not module.scale_grad_by_freq and not module.sparse
    if isinstance(module, nn.LayerNorm):
        return attr in ("weight", "bias") and len(module.normalized_shape) == 1
    if _rms_eps(module) is not None:
        return attr == "weight" and getattr(module, "weight", None) is not None and module.weight.dim() == 1
    return False


GATHER_DENSITY = 1 / 32
"""A weight whose kept fraction is below this is computed from the kept (row, column) products alone; denser ones
from the full product, then indexed (a matrix product beats a gather there)."""

GATHER_CHUNK = 2**24
"""Elements per gathered block (tokens × coordinates), bounding the memory of a sparse weight's products."""


class PerSampleGradients:
    """
    Captures the inputs and outputs of the layers owning `names` during a forward pass, and turns output gradients
    into per-text (or summed) gradients of those parameters, optionally over a subset of coordinates only.

    Args:
        model (`nn.Module`): The base model.
        names (`list[str]`): Selected parameter names, in concatenation order.
        numels (`list[int]`, *optional*): Their element counts (the coordinate layout); read from `model` if omitted.
    """

    def __init__(self, model: nn.Module, names: Sequence[str], numels: Sequence[int] | None = None):
        self.names = list(names)
        # A weight shared by several layers (a tied input/output embedding) gets gradient from each of its uses:
        # every layer holding it is an owner, and the per-text gradients of its uses add up.
        holders: dict[int, list[tuple[nn.Module, str]]] = {}
        for module in model.modules():
            for attr, param in module.named_parameters(recurse=False):
                holders.setdefault(id(param), []).append((module, attr))
        self.owners: dict[str, list[tuple[nn.Module, str]]] = {}
        for n in self.names:
            module, attr = _owner(model, n)
            self.owners[n] = holders.get(id(getattr(module, attr)), [(module, attr)])
        self.supported = all(supports(m, a) for owners in self.owners.values() for m, a in owners)
        self.per_text_supported = self.supported
        self.modules = list({id(m): m for owners in self.owners.values() for m, _ in owners}.values())
        if numels is None:
            numels = [getattr(*self.owners[n][0]).numel() for n in self.names]
        self.offsets = torch.tensor([0, *numels]).cumsum(0)
        self._records: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._local: tuple[torch.Tensor, list[torch.Tensor | None]] | None = None

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """Record each owner layer's (input, output) during the forward passes run inside this context."""
        self._records = {id(m): [] for m in self.modules}

        def hook(module, args, output):
            self._records[id(module)].append((args[0], output))

        handles = [m.register_forward_hook(hook) for m in self.modules]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def ran_once(self) -> bool:
        """Whether every owner layer ran exactly once in the captured pass (a reused layer cannot be split)."""
        return all(len(self._records.get(id(m), ())) == 1 for m in self.modules)

    def applicable(self, rows: int) -> bool:
        """
        Whether the captured pass allows per-text gradients: every owner layer ran once, on a tensor with one row
        per text (a layer applied to an input shared by the batch, e.g. BERT's position embeddings, does not).
        """
        return self.ran_once() and all(self._records[id(m)][0][1].shape[0] == rows for m in self.modules)

    def clear(self) -> None:
        """Drop the captured tensors (they hold the forward pass's activations)."""
        self._records = {}

    def compute(
        self,
        total_loss: torch.Tensor,
        rows: int,
        retain_graph: bool,
        coordinates: torch.Tensor | None = None,
        reduce: bool = False,
    ) -> torch.Tensor:
        """
        Per-text gradients of `total_loss`, the sum of per-text losses over the captured batch of `rows` texts.

        Args:
            total_loss (`torch.Tensor`): Scalar loss of the captured pass.
            rows (`int`): Texts in the captured batch.
            retain_graph (`bool`): Keep the graph for another backward pass.
            coordinates (`torch.Tensor`, *optional*): Sorted base-global coordinates to return; all when `None`.
            reduce (`bool`, *optional*, defaults to `False`): Return the gradient of `total_loss` itself (summed over
                the batch), shape `(1, k)`, instead of one row per text.

        Returns:
            `torch.Tensor` of shape `(rows, k)` (or `(1, k)` when `reduce`), float32.
        """
        outputs = [self._records[id(m)][0][1] for m in self.modules]
        grads = torch.autograd.grad(total_loss, outputs, retain_graph=retain_graph, allow_unused=True)
        grad_of = {id(m): g for m, g in zip(self.modules, grads, strict=True)}
        local = self._local_indices(coordinates)
        batch = 1 if reduce else rows
        pieces = []
        for name, index in zip(self.names, local, strict=True):
            if index is not None and index.numel() == 0:
                continue
            piece = None
            for module, attr in self.owners[name]:
                inputs, output = self._records[id(module)][0]
                grad = grad_of[id(module)]
                if grad is None:
                    grad = torch.zeros_like(output)
                use = _per_sample(module, attr, inputs.detach(), grad.float(), batch, index)
                piece = use if piece is None else piece + use
            pieces.append(piece)
        if not pieces:
            return torch.zeros(batch, 0, device=total_loss.device)
        return torch.cat(pieces, dim=1)

    def _local_indices(self, coordinates: torch.Tensor | None) -> list[torch.Tensor | None]:
        """Per parameter, the kept flat indices inside it (`None`: all of it), cached for the last coordinates."""
        if coordinates is None:
            return [None] * len(self.names)
        if self._local is not None and self._local[0] is coordinates:
            return self._local[1]
        device = self._records[id(self.modules[0])][0][1].device if self._records else coordinates.device
        flat = coordinates.reshape(-1).to(device="cpu", dtype=torch.long)
        bounds = torch.searchsorted(flat, self.offsets)
        local = []
        for j in range(len(self.names)):
            index = flat[bounds[j]:bounds[j + 1]] - self.offsets[j]
            whole = index.numel() == int(self.offsets[j + 1] - self.offsets[j])
            local.append(None if whole else index.to(device))
        self._local = (coordinates, local)
        return local


def _per_sample(
    module: nn.Module,
    attr: str,
    inputs: torch.Tensor,
    grad: torch.Tensor,
    batch: int,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    """The `(batch, k)` gradients of `module.<attr>`, flattened, at `index` (every element when `None`)."""
    numel = getattr(module, attr).numel()
    sparse = index is not None and index.numel() < GATHER_DENSITY * numel
    if sparse and attr == "weight" and (isinstance(module, nn.Linear) or _is_conv1d(module)):
        x = inputs.float().reshape(batch, -1, inputs.shape[-1])
        g = grad.reshape(batch, -1, grad.shape[-1])
        if isinstance(module, nn.Linear):  # weight (out, in)
            rows_of, cols_of = g, x
            width = x.shape[-1]
        else:  # Conv1D weight (in, out)
            rows_of, cols_of = x, g
            width = g.shape[-1]
        return _gathered_products(rows_of, cols_of, index // width, index % width)
    if sparse and isinstance(module, nn.Embedding):
        dim = module.embedding_dim
        out = _gathered_rows(inputs.reshape(batch, -1), grad.reshape(batch, -1, dim), index // dim, index % dim)
        if module.padding_idx is not None:
            out[:, index // dim == module.padding_idx] = 0
        return out
    full = _full_per_sample(module, attr, inputs, grad, batch).reshape(batch, -1)
    return full if index is None else full[:, index]


def _gathered_rows(
    ids: torch.Tensor, grad: torch.Tensor, row_index: torch.Tensor, col_index: torch.Tensor
) -> torch.Tensor:
    """
    An embedding's per-text gradient at kept `(row, column)` pairs, `out[b, k] = sum_t [ids[b, t] == row_index[k]] *
    grad[b, t, col_index[k]]`, in bounded blocks (the full `(batch, vocab, dim)` gradient is never built).
    """
    batch, tokens = ids.shape
    step = max(1, GATHER_CHUNK // max(1, batch * tokens))
    out = torch.empty(batch, row_index.numel(), dtype=grad.dtype, device=grad.device)
    for start in range(0, row_index.numel(), step):
        rows, cols = row_index[start:start + step], col_index[start:start + step]
        match = ids[:, :, None] == rows[None, None, :]
        torch.sum(grad[:, :, cols] * match, dim=1, out=out[:, start:start + step])
    return out


def _gathered_products(
    rows_of: torch.Tensor, cols_of: torch.Tensor, row_index: torch.Tensor, col_index: torch.Tensor
) -> torch.Tensor:
    """
    `out[b, k] = sum_t rows_of[b, t, row_index[k]] * cols_of[b, t, col_index[k]]`, in bounded blocks.

    Both factors are laid out feature-major (`(features, batch, tokens)`, contiguous) first, so each kept coordinate
    gathers two contiguous runs of `batch × tokens` values instead of strided single elements.
    """
    batch, tokens = rows_of.shape[:2]
    rows_t = rows_of.permute(2, 0, 1).contiguous()
    cols_t = cols_of.permute(2, 0, 1).contiguous()
    step = max(1, GATHER_CHUNK // max(1, batch * tokens))
    out = torch.empty(row_index.numel(), batch, dtype=rows_of.dtype, device=rows_of.device)
    for start in range(0, row_index.numel(), step):
        stop = start + step
        a = rows_t.index_select(0, row_index[start:stop])
        b = cols_t.index_select(0, col_index[start:stop])
        torch.sum(a.mul_(b), dim=-1, out=out[start:stop])
    return out.T


def _full_per_sample(
    module: nn.Module, attr: str, inputs: torch.Tensor, grad: torch.Tensor, batch: int
) -> torch.Tensor:
    if isinstance(module, nn.Embedding):
        ids = inputs.reshape(batch, -1)
        grad = grad.reshape(batch, -1, module.embedding_dim)
        out = torch.zeros(batch, module.num_embeddings, module.embedding_dim, dtype=grad.dtype, device=grad.device)
        out.scatter_add_(1, ids[..., None].expand_as(grad), grad)
        if module.padding_idx is not None:
            out[:, module.padding_idx] = 0
        return out
    x = inputs.float().reshape(batch, -1, inputs.shape[-1])
    g = grad.reshape(batch, -1, grad.shape[-1])
    if attr == "bias":
        return g.sum(1)
    if isinstance(module, nn.Linear):
        return torch.einsum("bto,bti->boi", g, x)
    if _is_conv1d(module):
        return torch.einsum("bti,bto->bio", x, g)
    if isinstance(module, nn.LayerNorm):
        normalized = F.layer_norm(x, module.normalized_shape, None, None, module.eps)
    else:
        normalized = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _rms_eps(module))
    return (g * normalized).sum(1)
