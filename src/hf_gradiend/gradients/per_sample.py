"""Per-text gradients from one batched forward and one backward pass per loss.

Texts in a batch do not interact in a language model's forward pass, so the gradient of the *summed* loss with
respect to a layer's output, restricted to one text's rows, is that text's own output gradient. Each selected weight's
per-text gradient then follows from the layer's input and that output gradient (the same products autograd would
form, kept apart per text): `nn.Linear` and GPT-2's `Conv1D` weights and biases, `nn.Embedding` rows, and LayerNorm /
RMSNorm scales and shifts. Other layer types are not covered; the engine then falls back to one pass per text.
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


class PerSampleGradients:
    """
    Captures the inputs and outputs of the layers owning `names` during a forward pass, and turns output gradients
    into per-text gradients of those parameters.

    Args:
        model (`nn.Module`): The base model.
        names (`list[str]`): Selected parameter names, in concatenation order.
    """

    def __init__(self, model: nn.Module, names: Sequence[str]):
        self.names = list(names)
        self.owners = {n: _owner(model, n) for n in self.names}
        self.supported = all(supports(m, a) for m, a in self.owners.values())
        self.modules = list({id(m): m for m, _ in self.owners.values()}.values())
        self._records: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}

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

    def applicable(self, rows: int) -> bool:
        """
        Whether the captured pass allows per-text gradients: every owner layer ran once, on a tensor with one row
        per text (a layer applied to an input shared by the batch, e.g. BERT's position embeddings, does not).
        """
        return all(
            len(self._records.get(id(m), ())) == 1 and self._records[id(m)][0][1].shape[0] == rows
            for m in self.modules
        )

    def compute(self, total_loss: torch.Tensor, rows: int, retain_graph: bool) -> torch.Tensor:
        """
        Per-text gradients of `total_loss`, the sum of per-text losses over the captured batch of `rows` texts.

        Returns:
            `torch.Tensor` of shape `(rows, num_coordinates)`, float32.
        """
        outputs = [self._records[id(m)][0][1] for m in self.modules]
        grads = torch.autograd.grad(total_loss, outputs, retain_graph=retain_graph, allow_unused=True)
        grad_of = {id(m): g for m, g in zip(self.modules, grads, strict=True)}
        batch = rows
        pieces = []
        for name in self.names:
            module, attr = self.owners[name]
            inputs, output = self._records[id(module)][0]
            grad = grad_of[id(module)]
            if grad is None:
                grad = torch.zeros_like(output)
            pieces.append(_per_sample(module, attr, inputs, grad.float(), batch).reshape(batch, -1))
        return torch.cat(pieces, dim=1)


def _per_sample(module: nn.Module, attr: str, inputs: torch.Tensor, grad: torch.Tensor, batch: int) -> torch.Tensor:
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
