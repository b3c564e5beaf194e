"""Factual and alternative gradients of a frozen base model over its selected parameters."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from ..configuration_gradiend import GRADIENT_KINDS
from .objectives import (
    DEFAULT_PLACEHOLDER,
    EncodedText,
    TextObjective,
    build_objective,
    infer_objective_name,
    output_embeddings,
    unwrap_model,
)
from .per_sample import PerSampleGradients
from .selection import ParameterSelection, select_parameters


@dataclasses.dataclass
class GradientPair:
    """
    Factual and alternative gradients of a batch, each of shape `(groups, num_coordinates)` (or `None` when not
    requested); `diff` is their difference, computed directly (one backward pass of the loss difference) when only
    the difference was asked for.
    """

    factual: torch.Tensor | None
    alternative: torch.Tensor | None
    diff: torch.Tensor | None = None

    def get(self, kind: str) -> torch.Tensor:
        """The gradient called `kind`: `"factual"`, `"alternative"` or `"diff"` (factual minus alternative)."""
        if kind not in GRADIENT_KINDS:
            raise ValueError(f"Gradient kind {kind!r} is not one of {', '.join(GRADIENT_KINDS)}.")
        if kind == "diff":
            if self.diff is not None:
                return self.diff
            if self.factual is None or self.alternative is None:
                raise ValueError("The diff gradient was not computed; request it in `kinds`.")
            return self.factual - self.alternative
        value = getattr(self, kind)
        if value is None:
            raise ValueError(f"The {kind} gradient was not computed; request it in `kinds`.")
        return value


class GradientEngine:
    """
    Computes the gradients GRADIEND reads and reconstructs.

    For each text, the loss of the *factual* word and of the *alternative* word are taken from one shared forward
    pass; each is differentiated with respect to the selected parameters only (the rest of the base model stays
    frozen). Texts are padded per batch and every text is read at its own positions, so a gradient computed in a
    batch equals the one computed alone.

    Args:
        model (`PreTrainedModel`): A masked or causal LM. It is put in eval mode. While a gradient is computed only
            the selected weights require grad; the model's own `requires_grad` flags are restored afterwards.
        tokenizer (`PreTrainedTokenizerBase`): Its (fast) tokenizer.
        selection (`ParameterSelection`, *optional*): Parameters to differentiate; built from `params` when omitted.
        params (`str` or `list[str]`, *optional*): Name globs for [`select_parameters`] when `selection` is omitted.
        objective (`str`, *optional*): `"masked_lm"`, `"causal_lm"`, or `None` to infer it from the model.
        placeholder (`str`, *optional*, defaults to `"[MASK]"`): The target word's marker in masked texts.

    Example:

    ```python
    >>> engine = GradientEngine(model, tokenizer, params=["*.layers.1.*"])
    >>> pair = engine.gradients(["Yesterday [MASK] went home."], ["he"], ["they"])
    >>> pair.get("diff").shape
    torch.Size([1, engine.selection.num_coordinates])
    ```
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        selection: ParameterSelection | None = None,
        params: str | Sequence[str] | None = None,
        objective: str | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.selection = selection if selection is not None else select_parameters(unwrap_model(model), params)
        self.objective: TextObjective = build_objective(
            objective or infer_objective_name(unwrap_model(model)), tokenizer, placeholder
        )
        self.parameters = self.selection.parameters(unwrap_model(model))
        self._per_sample = PerSampleGradients(unwrap_model(model), self.selection.names, self.selection.numels)
        head = output_embeddings(model)
        head_ids = {id(p) for p in head.parameters()} if head is not None else set()
        # the vocabulary projection runs on the target positions only, unless its own weights are differentiated
        self._gather_before_head = not head_ids & {id(p) for p in self.parameters}
        model.eval()
        self._chosen = {id(p) for p in self.parameters}

    @property
    def device(self) -> torch.device:
        return self.parameters[0].device

    def encode(self, masked_texts: Sequence[str], words: Sequence[str]) -> list[EncodedText]:
        """Encode each masked text with its target word (see [`TextObjective.encode`])."""
        if len(masked_texts) != len(words):
            raise ValueError(f"Got {len(masked_texts)} texts but {len(words)} words; give one word per text.")
        return [self.objective.encode(t, w) for t, w in zip(masked_texts, words, strict=True)]

    def gradients(
        self,
        masked_texts: Sequence[str],
        factual_words: Sequence[str],
        alternative_words: Sequence[str],
        kinds: Iterable[str] = GRADIENT_KINDS,
        per_text: bool = False,
        coordinates: torch.Tensor | None = None,
    ) -> GradientPair:
        """
        Gradients of the texts' losses for their factual and alternative words.

        Args:
            masked_texts (`list[str]`): Texts with the placeholder where the word goes.
            factual_words (`list[str]`): The word each text really has.
            alternative_words (`list[str]`): The counterfactual word of the other class.
            kinds (`list[str]`): Which of `"factual"`, `"alternative"`, `"diff"` are needed (skips unused passes).
            per_text (`bool`, *optional*, defaults to `False`):
                `False`: one gradient for the group (the mean of the per-text gradients), shape `(1, n)`.
                `True`: one gradient per text, shape `(len(texts), n)`, from one forward pass and one backward pass
                per kind (see [`PerSampleGradients`]); models with a layer it does not cover (or with an input
                shared by the batch, like BERT's position embeddings) use one pass per text instead.
            coordinates (`torch.Tensor`, *optional*): Sorted base-global coordinates to return (e.g. a pruned
                direction's); all when `None`. Where the layers allow it, only these coordinates are formed: the
                backward pass stops at the layers' outputs and no full weight gradient is built.

        Returns:
            [`GradientPair`] on the base model's device, in float32, of width `len(coordinates)` (or
            `num_coordinates`).
        """
        kinds = set(kinds)
        need_factual = bool(kinds & {"factual", "diff"})
        need_alternative = bool(kinds & {"alternative", "diff"})
        factual = self.encode(masked_texts, factual_words)
        alternative = self.encode(masked_texts, alternative_words)
        # The difference alone is the gradient of the loss difference: one backward pass instead of two.
        kinds = ["diff"] if kinds == {"diff"} else ["factual"] * need_factual + ["alternative"] * need_alternative
        if coordinates is not None and coordinates.dim() != 1:
            coordinates = coordinates.reshape(-1)  # a 1-D tensor is kept as is: its split is cached by identity
        if not per_text or len(factual) == 1:
            return self._mean_gradients(factual, alternative, kinds, coordinates)
        batched = self._per_text_batched(factual, alternative, kinds, coordinates)
        if batched is not None:
            return batched
        singles = [
            self._mean_gradients([f], [a], kinds, coordinates) for f, a in zip(factual, alternative, strict=True)
        ]
        return GradientPair(*(
            torch.cat([getattr(s, k) for s in singles]) if k in kinds else None
            for k in ("factual", "alternative", "diff")
        ))

    def add_abs_gradient_(
        self, out: torch.Tensor, masked_text: str, factual_word: str, alternative_word: str, kind: str = "diff"
    ) -> torch.Tensor:
        """
        Add the absolute gradient of one text's `kind` loss to `out` (a flat `(num_coordinates,)` float tensor), one
        parameter at a time as the backward pass produces it: the full gradient is never held, so ranking every
        weight of a large model (pre-pruning) costs one extra vector, not three.

        Returns:
            `out`.
        """
        if kind not in GRADIENT_KINDS:
            raise ValueError(f"Gradient kind {kind!r} is not one of {', '.join(GRADIENT_KINDS)}.")
        if tuple(out.shape) != (self.selection.num_coordinates,):
            raise ValueError(f"out has shape {tuple(out.shape)}; expected ({self.selection.num_coordinates},).")
        factual = self.encode([masked_text], [factual_word])
        alternative = self.encode([masked_text], [alternative_word])
        offsets = self.selection.offsets

        def add(j: int, grad: torch.Tensor) -> None:
            out[offsets[j]:offsets[j] + grad.numel()].add_(grad.reshape(-1).abs().to(out.dtype))

        with self._differentiating():
            losses, _ = self._losses(factual, alternative)
            self._stream_grads(losses[kind].sum(), retain=False, consume=add)
        return out

    # -------------------------------------------------------------------------------------------------- internals
    @contextlib.contextmanager
    def _differentiating(self) -> Iterator[None]:
        """Grad mode, with only the selected weights requiring grad; the model's own flags come back afterwards."""
        params = list(unwrap_model(self.model).parameters())
        flags = [p.requires_grad for p in params]
        try:
            for p in params:
                p.requires_grad_(id(p) in self._chosen)
            with torch.enable_grad():
                yield
        finally:
            for p, flag in zip(params, flags, strict=True):
                p.requires_grad_(flag)

    def _mean_gradients(
        self,
        factual: list[EncodedText],
        alternative: list[EncodedText],
        kinds: list[str],
        coordinates: torch.Tensor | None = None,
    ) -> GradientPair:
        """
        Gradients of the mean loss over the texts: one forward, one backward per kind. Over a subset of coordinates
        (and layers the per-text rules cover) only that subset is formed from the layers' inputs and output
        gradients; otherwise autograd's full gradient is taken and indexed.
        """
        per_sample = self._per_sample
        with self._differentiating():
            if coordinates is not None and per_sample.supported:
                try:
                    with per_sample.capture():
                        losses, _ = self._losses(factual, alternative)
                    if per_sample.ran_once():
                        out = {
                            kind: per_sample.compute(
                                losses[kind].mean(), 1, j < len(kinds) - 1, coordinates, reduce=True
                            )
                            for j, kind in enumerate(kinds)
                        }
                        return GradientPair(out.get("factual"), out.get("alternative"), out.get("diff"))
                    per_sample.supported = per_sample.per_text_supported = False  # a layer ran twice: use autograd
                finally:
                    per_sample.clear()
            losses, _ = self._losses(factual, alternative)
            out = {}
            for j, kind in enumerate(kinds):
                out[kind] = self._flat_grad(losses[kind].mean(), j < len(kinds) - 1, coordinates)[None]
        return GradientPair(out.get("factual"), out.get("alternative"), out.get("diff"))

    def _per_text_batched(
        self,
        factual: list[EncodedText],
        alternative: list[EncodedText],
        kinds: list[str],
        coordinates: torch.Tensor | None = None,
    ) -> GradientPair | None:
        """Per-text gradients from one forward and one backward per kind; `None` where the model does not allow it."""
        per_sample = self._per_sample
        if not per_sample.per_text_supported:
            return None
        with self._differentiating():
            try:
                with per_sample.capture():
                    losses, rows = self._losses(factual, alternative)
                width = len(factual) + (0 if rows["alternative"] is rows["factual"] else len(alternative))
                if not per_sample.applicable(width):
                    per_sample.per_text_supported = False  # e.g. an input shared by the batch: one pass per text
                    return None
                out = {}
                for j, kind in enumerate(kinds):
                    grads = per_sample.compute(losses[kind].sum(), width, j < len(kinds) - 1, coordinates)
                    if rows[kind] is None:
                        out[kind] = grads[rows["factual"]] + grads[rows["alternative"]]
                    else:
                        out[kind] = grads[rows[kind]]
            finally:
                per_sample.clear()
        return GradientPair(out.get("factual"), out.get("alternative"), out.get("diff"))

    def _losses(
        self, factual: list[EncodedText], alternative: list[EncodedText]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor | None]]:
        """
        Per-text factual, alternative and difference losses from one forward pass, and the batch rows each kind was
        read from (`None` for a difference whose two losses sit in different rows).
        """
        shared = all(
            f.input_ids == a.input_ids and f.positions == a.positions
            for f, a in zip(factual, alternative, strict=True)
        )
        if shared:
            batch = self.objective.collate(factual).to(self.device)
            alt_ids = torch.tensor([i for a in alternative for i in a.target_ids], device=self.device)
            logits = self.objective.piece_logits(self.model, batch, self._gather_before_head)
            rows = torch.arange(len(factual), device=self.device)
            losses = {
                "factual": self.objective.losses(logits, batch),
                "alternative": self.objective.losses(logits, dataclasses.replace(batch, piece_ids=alt_ids)),
            }
            losses["diff"] = losses["factual"] - losses["alternative"]
            return losses, {"factual": rows, "alternative": rows, "diff": rows}
        # Different inputs (e.g. words with different piece counts): one forward over both halves.
        batch = self.objective.collate(factual + alternative).to(self.device)
        losses = self.objective.losses(self.objective.piece_logits(self.model, batch, self._gather_before_head), batch)
        n = len(factual)
        rows = {
            "factual": torch.arange(n, device=self.device),
            "alternative": torch.arange(n, 2 * n, device=self.device),
        }
        rows["diff"] = None  # each text's difference spans both halves: its two rows' gradients add up
        return {"factual": losses[:n], "alternative": losses[n:], "diff": losses[:n] - losses[n:]}, rows

    def _stream_grads(self, loss: torch.Tensor, retain: bool, consume) -> None:
        """
        Backward pass of `loss` into the selected parameters, handing each parameter's gradient to `consume(j,
        grad)` as soon as autograd has it and dropping it then, so at most one parameter's gradient is alive.
        """

        def hook(j: int):
            def consume_grad(param: torch.Tensor) -> None:
                consume(j, param.grad)
                param.grad = None

            return consume_grad

        for p in self.parameters:
            p.grad = None
        handles = [p.register_post_accumulate_grad_hook(hook(j)) for j, p in enumerate(self.parameters)]
        try:
            torch.autograd.backward(loss, inputs=self.parameters, retain_graph=retain)
        finally:
            for handle in handles:
                handle.remove()
            for p in self.parameters:
                p.grad = None

    def _flat_grad(self, loss: torch.Tensor, retain: bool, coordinates: torch.Tensor | None = None) -> torch.Tensor:
        """The gradient of `loss` over the selection (or only `coordinates`), gathered parameter by parameter."""
        local = self._per_sample._local_indices(coordinates)
        pieces: list[torch.Tensor | None] = [None] * len(self.parameters)

        def keep(j: int, grad: torch.Tensor) -> None:
            flat = grad.reshape(-1)
            pieces[j] = (flat if local[j] is None else flat[local[j].to(flat.device)]).float()

        self._stream_grads(loss, retain, keep)
        return torch.cat([
            piece if piece is not None else torch.zeros(
                self.parameters[j].numel() if local[j] is None else local[j].numel(), device=self.device
            )
            for j, piece in enumerate(pieces)
        ])
