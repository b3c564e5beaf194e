"""How a masked text and a target word become model inputs and a loss on that word.

Two objectives exist:

- **masked LM**: the placeholder is replaced by as many mask tokens as the word has pieces; the loss is the negative
  log-probability of the pieces at those positions.
- **causal LM**: the text is cut after the word; the model reads the left context (and the word's earlier pieces) and
  the loss is the negative log-probability of each piece as the next token.

In both, the word is tokenized *in its sentence* (through the tokenizer's offset mapping), so a BPE word after a
space is its space-prefixed token (`" they"`, not `"they"`), whatever the tokenizer family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)

DEFAULT_PLACEHOLDER = "[MASK]"


@dataclass(frozen=True)
class EncodedText:
    """
    One text ready for the model.

    Args:
        input_ids (`tuple[int, ...]`): Token ids, special tokens included, unpadded.
        positions (`tuple[int, ...]`): Positions whose logits predict the target pieces, one per piece.
        target_ids (`tuple[int, ...]`): The target word's pieces.
    """

    input_ids: tuple[int, ...]
    positions: tuple[int, ...]
    target_ids: tuple[int, ...]


@dataclass
class TextBatch:
    """A padded batch of [`EncodedText`]s with the gather indices of every target piece."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor | None
    piece_rows: torch.Tensor  # (pieces,) row of each target piece
    piece_positions: torch.Tensor  # (pieces,) position (after padding) whose logits predict it
    piece_ids: torch.Tensor  # (pieces,) token id of the piece
    num_texts: int

    def to(self, device: torch.device | str) -> TextBatch:
        move = (lambda t: None if t is None else t.to(device))  # noqa: E731
        return TextBatch(
            move(self.input_ids), move(self.attention_mask), move(self.position_ids), move(self.piece_rows),
            move(self.piece_positions), move(self.piece_ids), self.num_texts,
        )


class TextObjective:
    """
    Base class: turns `(masked text, word)` pairs into [`EncodedText`] and a batch's logits into per-text losses.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): A tokenizer with offset mappings (any "fast" tokenizer).
        placeholder (`str`, *optional*, defaults to `"[MASK]"`): Marks the target word's place in a masked text.
    """

    name: str = ""
    pass_position_ids: bool = False
    """Pass position ids counted over real tokens, so left padding does not shift positions."""
    padding_side: str | None = None
    """Fixed padding side, or `None` to follow the tokenizer."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, placeholder: str = DEFAULT_PLACEHOLDER):
        if not getattr(tokenizer, "is_fast", True):
            raise TypeError(
                f"{type(tokenizer).__name__} gives no offset mapping; load the tokenizer with use_fast=True."
            )
        self.tokenizer = tokenizer
        self.placeholder = placeholder

    # -------------------------------------------------------------------------------------------------- encoding
    def encode(self, masked_text: str, word: str) -> EncodedText:
        """Encode one masked text with `word` as its target."""
        raise NotImplementedError

    def _split_around(self, masked_text: str, word: str) -> tuple[list[int], list[tuple[int, int]], int, int]:
        """Tokenize the filled-in text; return ids, offsets and the index range of the word's pieces."""
        if self.placeholder not in masked_text:
            raise ValueError(
                f"The text {masked_text!r} has no placeholder {self.placeholder!r}. Mark the target word's place "
                f"with {self.placeholder!r} (or set mask_placeholder to the marker your data uses)."
            )
        if not word or not word.strip():
            raise ValueError(f"The target word {word!r} for {masked_text!r} is empty; give a non-empty word.")
        start = masked_text.index(self.placeholder)
        text = masked_text[:start] + word + masked_text[start + len(self.placeholder):]
        end = start + len(word)
        enc = self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
        ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
        inside = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
        unk = self.tokenizer.unk_token_id
        if not inside or (unk is not None and any(ids[i] == unk for i in inside)):
            raise ValueError(
                f"The tokenizer cannot encode the target word {word!r} (in {text!r}): it becomes "
                f"{[self.tokenizer.convert_ids_to_tokens(ids[i]) for i in inside] or 'no token'}. Choose words in "
                "the tokenizer's vocabulary."
            )
        first, last = inside[0], inside[-1]
        span_start = offsets[first][0]
        span_end = offsets[last][1]
        if span_end > end or (span_start < start and text[span_start:start].strip()):
            raise ValueError(
                f"The target word {word!r} shares a token with its neighbours in {text!r}; the tokenizer merges it "
                "into a longer piece. Put whitespace or punctuation around the placeholder."
            )
        return ids, offsets, first, last + 1

    # ---------------------------------------------------------------------------------------------------- batches
    def collate(self, texts: Sequence[EncodedText]) -> TextBatch:
        """Pad `texts` to the longest one and index every target piece."""
        if not texts:
            raise ValueError("Cannot build a batch from zero texts.")
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        width = max(len(t.input_ids) for t in texts)
        left = (self.padding_side or self.tokenizer.padding_side) == "left"
        input_ids = torch.full((len(texts), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(texts), width), dtype=torch.long)
        rows, positions, pieces = [], [], []
        for r, t in enumerate(texts):
            shift = width - len(t.input_ids) if left else 0
            input_ids[r, shift:shift + len(t.input_ids)] = torch.tensor(t.input_ids)
            attention[r, shift:shift + len(t.input_ids)] = 1
            rows += [r] * len(t.positions)
            positions += [p + shift for p in t.positions]
            pieces += list(t.target_ids)
        position_ids = (attention.cumsum(-1) - 1).clamp(min=0) if self.pass_position_ids else None
        return TextBatch(
            input_ids, attention, position_ids, torch.tensor(rows), torch.tensor(positions), torch.tensor(pieces),
            len(texts),
        )

    def losses(self, logits: torch.Tensor, batch: TextBatch) -> torch.Tensor:
        """
        Per-text loss: the negative log-probability of the whole word (sum over its pieces).

        Args:
            logits (`torch.Tensor`): The logits at the target pieces' positions, `(pieces, vocab)` (see
                [`~TextObjective.piece_logits`]).

        Returns:
            `torch.Tensor` of shape `(num_texts,)`.
        """
        picked = logits.float()
        nll = torch.logsumexp(picked, dim=-1) - picked.gather(-1, batch.piece_ids[:, None]).squeeze(-1)
        return torch.zeros(batch.num_texts, dtype=nll.dtype, device=nll.device).index_add(0, batch.piece_rows, nll)

    def piece_logits(self, model: PreTrainedModel, batch: TextBatch, gather_before_head: bool = True) -> torch.Tensor:
        """
        Run `model` on `batch` and return the logits at the target pieces' positions, shape `(pieces, vocab)`.

        Args:
            model (`PreTrainedModel`): The LM (a distributed wrapper around it works too).
            batch ([`TextBatch`]): The padded texts.
            gather_before_head (`bool`, *optional*, defaults to `True`):
                Pick the positions *before* the output embedding, so the vocabulary projection (and its backward
                pass) runs on the target positions only instead of on every token: a fifth of a 135M model's
                compute, and the largest activation of a batch. Turn it off when the output embedding's own weights
                are differentiated per text (their inputs must keep the batch layout).
        """
        kwargs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        if batch.position_ids is not None:
            kwargs["position_ids"] = batch.position_ids
        return logits_at(model, kwargs, batch.piece_rows, batch.piece_positions, gather_before_head)


def logits_at(
    model: PreTrainedModel,
    inputs: dict[str, torch.Tensor],
    rows: torch.Tensor,
    positions: torch.Tensor,
    gather_before_head: bool = True,
) -> torch.Tensor:
    """
    The logits of `model` on `inputs` at `(rows[i], positions[i])`, shape `(len(rows), vocab)`. With
    `gather_before_head`, the hidden states are picked before the output embedding (a forward pre-hook), so the
    vocabulary projection runs on those positions only; a head whose input is not `(batch, sequence, hidden)` is
    left alone and its logits indexed afterwards.
    """
    head = output_embeddings(model) if gather_before_head else None
    if head is None:
        return model(**inputs, use_cache=False).logits[rows, positions]
    shape = tuple(inputs["input_ids"].shape)

    def gather(module, args):
        hidden = args[0]
        if hidden.dim() != 3 or tuple(hidden.shape[:2]) != shape:
            return None
        return (hidden[rows, positions], *args[1:])

    handle = head.register_forward_pre_hook(gather)
    try:
        logits = model(**inputs, use_cache=False).logits
    finally:
        handle.remove()
    return logits if logits.dim() == 2 else logits[rows, positions]


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP/compile wrapper."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)


def output_embeddings(model: torch.nn.Module) -> torch.nn.Module | None:
    """The module projecting hidden states to the vocabulary (inside any distributed wrapper), or `None`."""
    model = unwrap_model(model)
    get_output = getattr(model, "get_output_embeddings", None)
    head = get_output() if callable(get_output) else None
    return head if isinstance(head, torch.nn.Module) else None


class MaskedLMObjective(TextObjective):
    """
    Masked-LM objective: one mask token per piece of the word, the loss read at the mask positions.

    Batches are always padded on the right: encoder models number positions from the first token, so right padding
    with an attention mask is exact for absolute (BERT) and padding-aware (RoBERTa) position schemes alike.
    """

    name = "masked_lm"
    padding_side = "right"

    def __init__(self, tokenizer: PreTrainedTokenizerBase, placeholder: str = DEFAULT_PLACEHOLDER):
        super().__init__(tokenizer, placeholder)
        if tokenizer.mask_token_id is None:
            raise ValueError(
                f"{type(tokenizer).__name__} has no mask token, so it cannot serve a masked-LM objective. Use "
                "objective='causal_lm' for decoder-only models."
            )

    def encode(self, masked_text: str, word: str) -> EncodedText:
        ids, _, first, stop = self._split_around(masked_text, word)
        target = tuple(ids[first:stop])
        masked = ids[:first] + [self.tokenizer.mask_token_id] * len(target) + ids[stop:]
        return EncodedText(tuple(masked), tuple(range(first, stop)), target)


class CausalLMObjective(TextObjective):
    """
    Causal-LM objective: the text is cut after the word; each piece is scored as the next token.

    Batches follow the tokenizer's padding side; position ids are counted over real tokens, so left and right padding
    give the same gradients as a text alone.
    """

    name = "causal_lm"
    pass_position_ids = True

    def encode(self, masked_text: str, word: str) -> EncodedText:
        ids, _, first, stop = self._split_around(masked_text, word)
        if first == 0:
            raise ValueError(
                f"The text {masked_text!r} has no left context before the placeholder, and the tokenizer adds no "
                "beginning-of-sequence token; a causal LM cannot predict its first token. Drop such rows "
                "(min_left_context_words) or use a tokenizer that adds a BOS token."
            )
        target = tuple(ids[first:stop])
        return EncodedText(tuple(ids[: stop - 1]), tuple(range(first - 1, stop - 1)), target)


OBJECTIVE_CLASSES = {cls.name: cls for cls in (MaskedLMObjective, CausalLMObjective)}


def infer_objective_name(model_or_config) -> str:
    """`"masked_lm"` for a `*ForMaskedLM` model (or config), `"causal_lm"` for a causal LM."""
    config = getattr(model_or_config, "config", model_or_config)
    architecture = type(model_or_config).__name__ if hasattr(model_or_config, "config") else None
    architectures = [architecture] if architecture else list(getattr(config, "architectures", None) or [])
    for arch in architectures:
        if arch in MODEL_FOR_MASKED_LM_MAPPING_NAMES.values() and not getattr(config, "is_decoder", False):
            return "masked_lm"
        if arch in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values() or arch.endswith(("ForCausalLM", "LMHeadModel")):
            return "causal_lm"
        if arch.endswith("ForMaskedLM"):
            return "masked_lm"
    model_type = getattr(config, "model_type", None)
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(config, "is_decoder", False):
        return "masked_lm"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "causal_lm"
    raise ValueError(
        f"Cannot tell whether {architectures or model_type!r} is a masked or a causal LM; pass objective='masked_lm' "
        "or objective='causal_lm'."
    )


def build_objective(
    name: str, tokenizer: PreTrainedTokenizerBase, placeholder: str = DEFAULT_PLACEHOLDER
) -> TextObjective:
    """Instantiate the objective called `name` (`"masked_lm"` or `"causal_lm"`)."""
    if name not in OBJECTIVE_CLASSES:
        raise ValueError(f"objective={name!r} is not one of {', '.join(OBJECTIVE_CLASSES)}.")
    return OBJECTIVE_CLASSES[name](tokenizer, placeholder)
