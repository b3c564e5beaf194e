"""The language-modelling score (LMS): how well a (possibly rewritten) model still predicts ordinary text.

Definitions (both on a 0–1 scale, higher is better, micro-averaged over scored tokens):

- **masked LM**: in every text, `max(1, round(0.15 · m))` of its `m` eligible tokens are replaced by the mask token
  at once (positions drawn with `random.Random(seed)`, so every model sees the same masks); the LMS is the top-1
  accuracy of the model's predictions at those positions.
- **causal LM**: the LMS is the next-token top-1 accuracy at every eligible position after the first token.

A token is *eligible* when it is a real token of the text (not padding, not a special token such as `[CLS]`,
`[SEP]` or `<s>`) and does not overlap a target word (the feature's words, matched as whole words in any case), so
the score measures language modelling apart from the feature being edited. Texts longer than `max_length` tokens
are truncated.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..gradients.objectives import infer_objective_name, logits_at
from .texts import word_pattern, word_spans

DEFAULT_MASK_RATIO = 0.15


@dataclass
class _ScoreBatch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    rows: torch.Tensor  # (k,) row of each scored token
    positions: torch.Tensor  # (k,) position whose logits predict it
    labels: torch.Tensor  # (k,) the true token

    def to(self, device: torch.device) -> _ScoreBatch:
        return _ScoreBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.rows, self.positions,
                                                      self.labels)))


class LanguageModelingScorer:
    r"""
    Scores models on a fixed set of texts with the language-modelling score (see the module docstring for the exact
    definition). Masks and batches are prepared once, so scoring many models (the points of a decoder grid) repeats
    only the forward passes.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): A fast tokenizer (offset mappings are needed).
        texts (`list[str]`): Plain texts, ideally free of the feature's words.
        objective (`str`): `"masked_lm"` or `"causal_lm"`.
        excluded_words (`list[str]`, *optional*): Target words whose tokens are never scored.
        mask_ratio (`float`, *optional*, defaults to 0.15): Share of eligible tokens masked (masked LM only).
        seed (`int`, *optional*, defaults to 0): Seed of the masked positions.
        batch_size (`int`, *optional*, defaults to 16): Texts per forward pass.
        max_length (`int`, *optional*): Truncation length in tokens; defaults to the tokenizer's limit (at most 512).

    Example:

    ```python
    >>> scorer = LanguageModelingScorer(tokenizer, neutral_texts, "masked_lm", excluded_words=["he", "she"])
    >>> scorer(model)["lms"]
    0.41
    ```
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        texts: Sequence[str],
        objective: str,
        excluded_words: Sequence[str] = (),
        mask_ratio: float = DEFAULT_MASK_RATIO,
        seed: int = 0,
        batch_size: int = 16,
        max_length: int | None = None,
    ):
        if objective not in ("masked_lm", "causal_lm"):
            raise ValueError(f"objective={objective!r} must be 'masked_lm' or 'causal_lm'.")
        if not 0 < mask_ratio <= 1:
            raise ValueError(f"mask_ratio={mask_ratio} must lie in (0, 1].")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1.")
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string.")
        if objective == "masked_lm" and tokenizer.mask_token_id is None:
            raise ValueError(f"{type(tokenizer).__name__} has no mask token; a masked-LM score needs one.")
        self.objective = objective
        self.tokenizer = tokenizer
        self.mask_ratio = mask_ratio
        self.seed = seed
        self.max_length = max_length or min(int(tokenizer.model_max_length), 512)
        excluded = word_pattern(excluded_words)
        rng = random.Random(seed)
        encoded = [self._encode(text, excluded, rng) for text in texts]
        self.num_texts = len(texts)
        self.num_scored = sum(len(e[1]) for e in encoded)
        if self.num_scored == 0:
            raise ValueError(
                f"None of the {len(texts)} texts has a token to score (after removing special tokens and target "
                "words). Pass longer or more neutral texts."
            )
        order = sorted((i for i, e in enumerate(encoded) if e[1]), key=lambda i: len(encoded[i][0]))
        self._batches = [self._collate([encoded[i] for i in order[s:s + batch_size]])
                         for s in range(0, len(order), batch_size)]
        self._on_device: tuple[torch.device, list[_ScoreBatch]] | None = None

    # -------------------------------------------------------------------------------------------------- preparing
    def _encode(
        self, text: str, excluded, rng: random.Random
    ) -> tuple[list[int], list[int], list[int]]:
        """Input ids, positions to read logits at and the true tokens there."""
        if not isinstance(text, str):
            raise TypeError(f"Every text must be a string; got {type(text).__name__} ({text!r}).")
        enc = self.tokenizer(
            text, return_offsets_mapping=True, return_special_tokens_mask=True, truncation=True,
            max_length=self.max_length,
        )
        ids = list(enc["input_ids"])
        spans = word_spans(text, excluded)
        eligible = [
            i for i, ((start, end), special) in enumerate(zip(enc["offset_mapping"], enc["special_tokens_mask"],
                                                             strict=True))
            if not special and end > start and not any(start < e and end > s for s, e in spans)
        ]
        if self.objective == "causal_lm":
            scored = [i for i in eligible if i > 0]
            return ids, [i - 1 for i in scored], [ids[i] for i in scored]
        if not eligible:
            return ids, [], []
        count = max(1, round(self.mask_ratio * len(eligible)))
        chosen = sorted(rng.sample(eligible, count))
        labels = [ids[i] for i in chosen]
        for i in chosen:
            ids[i] = self.tokenizer.mask_token_id
        return ids, chosen, labels

    def _collate(self, items: list[tuple[list[int], list[int], list[int]]]) -> _ScoreBatch:
        # Right padding for both kinds: a causal LM's real tokens never attend to pads after them, so positions and
        # outputs equal those of the unpadded text; every row is read at its own positions.
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        width = max(len(ids) for ids, _, _ in items)
        input_ids = torch.full((len(items), width), pad, dtype=torch.long)
        attention = torch.zeros((len(items), width), dtype=torch.long)
        rows, positions, labels = [], [], []
        for r, (ids, pos, lab) in enumerate(items):
            input_ids[r, : len(ids)] = torch.tensor(ids)
            attention[r, : len(ids)] = 1
            rows += [r] * len(pos)
            positions += pos
            labels += lab
        return _ScoreBatch(input_ids, attention, torch.tensor(rows), torch.tensor(positions), torch.tensor(labels))

    # ---------------------------------------------------------------------------------------------------- scoring
    @torch.no_grad()
    def __call__(self, model: PreTrainedModel) -> dict[str, float]:
        """
        Score `model`.

        Returns:
            `dict` with `lms` (the score; `nan` when the model produced non-finite logits), `correct` and `total`
            (scored tokens), `nll` (mean negative log-likelihood of the true tokens) and `texts`.
        """
        device = next(model.parameters()).device
        if self._on_device is None or self._on_device[0] != device:
            self._on_device = (device, [b.to(device) for b in self._batches])
        correct = torch.zeros((), dtype=torch.long, device=device)
        nll = torch.zeros((), dtype=torch.float64, device=device)
        finite = torch.ones((), dtype=torch.bool, device=device)
        for batch in self._on_device[1]:
            inputs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
            picked = logits_at(model, inputs, batch.rows, batch.positions).float()  # the scored positions only
            log_norm = torch.logsumexp(picked, dim=-1)
            finite &= torch.isfinite(log_norm).all()
            correct += (picked.argmax(dim=-1) == batch.labels).sum()
            nll += (log_norm - picked.gather(-1, batch.labels[:, None])[:, 0]).double().sum()
        total = self.num_scored
        ok = bool(finite)
        return {
            "lms": int(correct) / total if ok else float("nan"),
            "correct": int(correct),
            "total": total,
            "nll": float(nll) / total if ok else float("nan"),
            "texts": self.num_texts,
        }


def default_max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, cap: int = 512) -> int:
    """The longest input both the model's position table and the tokenizer allow (at most `cap`)."""
    config = getattr(model, "config", None)
    limits = [cap, int(tokenizer.model_max_length)]
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
    return min(limits)


def language_modeling_score(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    objective: str | None = None,
    excluded_words: Sequence[str] = (),
    mask_ratio: float = DEFAULT_MASK_RATIO,
    seed: int = 0,
    batch_size: int = 16,
    max_length: int | None = None,
) -> dict[str, float]:
    """
    The language-modelling score of `model` on `texts` (see [`LanguageModelingScorer`] for the definition).

    Args:
        model (`PreTrainedModel`): A masked or causal LM.
        tokenizer (`PreTrainedTokenizerBase`): Its fast tokenizer.
        texts (`list[str]`): Plain, feature-neutral texts.
        objective (`str`, *optional*): `"masked_lm"` or `"causal_lm"`; inferred from the model when omitted.
        excluded_words (`list[str]`, *optional*): Target words whose tokens are not scored.
        mask_ratio, seed, batch_size, max_length: See [`LanguageModelingScorer`].

    Returns:
        `dict` with `lms`, `correct`, `total`, `nll` and `texts`.

    Example:

    ```python
    >>> from hf_gradiend.evaluation import language_modeling_score
    >>> language_modeling_score(model, tokenizer, ["The cat sat on the mat."])["lms"]
    ```
    """
    scorer = LanguageModelingScorer(
        tokenizer, texts, objective or infer_objective_name(model), excluded_words=excluded_words,
        mask_ratio=mask_ratio, seed=seed, batch_size=batch_size,
        max_length=max_length or default_max_length(model, tokenizer),
    )
    return scorer(model)
