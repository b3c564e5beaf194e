"""Factual and alternative gradients of a frozen base model over its selected parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from ..configuration_gradiend import GRADIENT_KINDS
from .objectives import DEFAULT_PLACEHOLDER, EncodedText, TextObjective, build_objective, infer_objective_name
from .selection import ParameterSelection, select_parameters


@dataclasses.dataclass
class GradientPair:
    """
    Factual and alternative gradients of a batch, each of shape `(groups, num_coordinates)` (or `None` when not
    requested); `diff` is their difference.
    """

    factual: torch.Tensor | None
    alternative: torch.Tensor | None

    def get(self, kind: str) -> torch.Tensor:
        """The gradient called `kind`: `"factual"`, `"alternative"` or `"diff"` (factual minus alternative)."""
        if kind not in GRADIENT_KINDS:
            raise ValueError(f"Gradient kind {kind!r} is not one of {', '.join(GRADIENT_KINDS)}.")
        if kind == "diff":
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
        model (`PreTrainedModel`): A masked or causal LM. It is put in eval mode; only selected weights require grad.
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
        self.selection = selection if selection is not None else select_parameters(_unwrap(model), params)
        self.objective: TextObjective = build_objective(
            objective or infer_objective_name(_unwrap(model)), tokenizer, placeholder
        )
        self.parameters = self.selection.parameters(_unwrap(model))
        model.eval()
        chosen = {id(p) for p in self.parameters}
        for p in _unwrap(model).parameters():
            p.requires_grad_(id(p) in chosen)

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
                `True`: one gradient per text, shape `(len(texts), n)`, still from a single forward pass.

        Returns:
            [`GradientPair`] on the base model's device, in float32.
        """
        kinds = set(kinds)
        need_factual = bool(kinds & {"factual", "diff"})
        need_alternative = bool(kinds & {"alternative", "diff"})
        factual = self.encode(masked_texts, factual_words)
        alternative = self.encode(masked_texts, alternative_words)
        with torch.enable_grad():
            factual_losses, alternative_losses = self._losses(factual, alternative)
            jobs = [("factual", factual_losses)] * need_factual
            jobs += [("alternative", alternative_losses)] * need_alternative
            out: dict[str, torch.Tensor] = {}
            for j, (kind, losses) in enumerate(jobs):
                last_job = j == len(jobs) - 1
                if per_text:
                    rows = [
                        self._flat_grad(losses[i], retain=not (last_job and i == len(losses) - 1))
                        for i in range(len(losses))
                    ]
                    out[kind] = torch.stack(rows)
                else:
                    out[kind] = self._flat_grad(losses.mean(), retain=not last_job)[None]
        return GradientPair(out.get("factual"), out.get("alternative"))

    # -------------------------------------------------------------------------------------------------- internals
    def _losses(
        self, factual: list[EncodedText], alternative: list[EncodedText]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-text factual and alternative losses from one forward pass."""
        shared = all(
            f.input_ids == a.input_ids and f.positions == a.positions
            for f, a in zip(factual, alternative, strict=True)
        )
        if shared:
            batch = self.objective.collate(factual).to(self.device)
            alt_ids = torch.tensor([i for a in alternative for i in a.target_ids], device=self.device)
            logits = self.objective.forward(self.model, batch)
            return (
                self.objective.losses(logits, batch),
                self.objective.losses(logits, dataclasses.replace(batch, piece_ids=alt_ids)),
            )
        # Different inputs (e.g. words with different piece counts): one forward over both halves.
        batch = self.objective.collate(factual + alternative).to(self.device)
        losses = self.objective.losses(self.objective.forward(self.model, batch), batch)
        return losses[: len(factual)], losses[len(factual):]

    def _flat_grad(self, loss: torch.Tensor, retain: bool) -> torch.Tensor:
        grads = torch.autograd.grad(loss, self.parameters, retain_graph=retain, allow_unused=True)
        return torch.cat([
            (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
            for g, p in zip(grads, self.parameters, strict=True)
        ])


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP/compile wrapper."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)
