"""Probability of each feature class's words at the masked position of a text.

For a masked text and a class, the probability is the sum over the class's words (and, by default, their
lower-case, capitalised and upper-case variants that the tokenizer encodes differently) of the probability of the
word in the placeholder's place:

- **masked LM**: the placeholder becomes one mask token per piece of the word; a multi-piece word's probability is
  the product of its pieces' probabilities at their masks.
- **causal LM**: the model reads the text up to the placeholder; a multi-piece word's probability is the product of
  each piece's next-token probability given the text and the earlier pieces (the chain rule).

Every text is read at its own positions whatever the padding side, so the numbers do not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from ..gradients.objectives import EncodedText, TextBatch, TextObjective
from .texts import case_variants


@dataclass
class _ProbabilityBatch:
    batch: TextBatch  # the unique inputs; piece_rows/piece_positions are the query positions
    piece_query: torch.Tensor  # (p,) query index of each word piece
    piece_token: torch.Tensor  # (p,) token id of each word piece
    piece_word: torch.Tensor  # (p,) batch-local word index of each piece
    word_cell: torch.Tensor  # (w,) flat (row, class) cell of each word
    num_words: int

    def to(self, device: torch.device) -> _ProbabilityBatch:
        return _ProbabilityBatch(
            self.batch.to(device), self.piece_query.to(device), self.piece_token.to(device),
            self.piece_word.to(device), self.word_cell.to(device), self.num_words,
        )


class TargetProbabilityScorer:
    r"""
    Scores models by the probability of each class's words at the placeholder of fixed masked texts (see the module
    docstring). Inputs are deduplicated (for single-piece words one forward pass per text serves every word) and
    batched once, so scoring many models repeats only the forward passes.

    Args:
        objective ([`TextObjective`]): The masked-LM or causal-LM objective (defines placeholder and encoding).
        masked_texts (`list[str]`): Texts with the placeholder where a class word goes.
        class_words (`dict[str, list[str]]`): The words of each class, e.g. `{"3SG": ["he", "she"], "3PL": ["they"]}`.
        row_classes (`list[str]`, *optional*): The class of each text, used to average per class of text.
        case_variants (`bool`, *optional*, defaults to `True`): Also sum the words' case variants.
        batch_size (`int`, *optional*, defaults to 16): Inputs per forward pass.

    Example:

    ```python
    >>> scorer = TargetProbabilityScorer(engine.objective, rows["masked"], {"3SG": ["he"], "3PL": ["they"]},
    ...                                  row_classes=rows["factual_class"])
    >>> scorer(model)["probabilities"]  # {text class: {word class: mean probability}}
    {'3SG': {'3SG': 0.61, '3PL': 0.12}, '3PL': {'3SG': 0.20, '3PL': 0.55}}
    ```
    """

    def __init__(
        self,
        objective: TextObjective,
        masked_texts: Sequence[str],
        class_words: Mapping[str, Sequence[str]],
        row_classes: Sequence[str] | None = None,
        case_variants: bool = True,
        batch_size: int = 16,
    ):
        if isinstance(masked_texts, str):
            raise TypeError("masked_texts must be a list of strings, not one string.")
        if not masked_texts:
            raise ValueError("There are no masked texts to score; pass at least one.")
        if row_classes is not None and len(row_classes) != len(masked_texts):
            raise ValueError(f"Got {len(row_classes)} row classes for {len(masked_texts)} texts; give one per text.")
        empty = [c for c, words in class_words.items() if not words]
        if not class_words or empty:
            raise ValueError(f"Every class needs at least one word; class(es) {empty or 'none'} have none.")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1.")
        self.objective = objective
        self.classes = list(class_words)
        self.row_classes = list(row_classes) if row_classes is not None else None
        self.num_rows = len(masked_texts)
        self._batches = self._prepare(masked_texts, class_words, case_variants, batch_size)
        self._on_device: tuple[torch.device, list[_ProbabilityBatch]] | None = None

    # -------------------------------------------------------------------------------------------------- preparing
    def _prepare(self, texts, class_words, variants: bool, batch_size: int) -> list[_ProbabilityBatch]:
        inputs: dict[tuple[int, ...], dict[int, None]] = {}  # unique input -> query positions
        words: dict[tuple[int, ...], list[tuple[EncodedText, int]]] = {}  # input -> (encoding, cell) per word
        for r, text in enumerate(texts):
            for c, name in enumerate(self.classes):
                seen = set()
                for word in class_words[name]:
                    for k, form in enumerate(case_variants(word) if variants else [word]):
                        try:
                            encoded = self.objective.encode(text, form)
                        except ValueError:
                            if k == 0:  # the word itself must encode; a missing variant is skipped
                                raise
                            continue
                        key = (encoded.input_ids, encoded.positions, encoded.target_ids)
                        if key in seen:  # e.g. "They" and "they" under a lower-casing tokenizer
                            continue
                        seen.add(key)
                        inputs.setdefault(encoded.input_ids, {}).update(dict.fromkeys(encoded.positions))
                        words.setdefault(encoded.input_ids, []).append((encoded, r * len(self.classes) + c))
        keys = sorted(inputs, key=len)
        batches = []
        for start in range(0, len(keys), batch_size):
            chunk = keys[start:start + batch_size]
            texts_in = [EncodedText(k, tuple(inputs[k]), tuple([0] * len(inputs[k]))) for k in chunk]
            batch = self.objective.collate(texts_in)
            query: dict[tuple[tuple[int, ...], int], int] = {}
            offset = 0
            for k in chunk:
                for j, pos in enumerate(inputs[k]):
                    query[(k, pos)] = offset + j
                offset += len(inputs[k])
            chosen = [(key, encoded, cell) for key in chunk for encoded, cell in words[key]]
            piece_query, piece_token, piece_word, word_cell = [], [], [], []
            for w, (key, encoded, cell) in enumerate(chosen):
                word_cell.append(cell)
                for pos, token in zip(encoded.positions, encoded.target_ids, strict=True):
                    piece_query.append(query[(key, pos)])
                    piece_token.append(token)
                    piece_word.append(w)
            batches.append(_ProbabilityBatch(
                batch, torch.tensor(piece_query), torch.tensor(piece_token), torch.tensor(piece_word),
                torch.tensor(word_cell), len(chosen),
            ))
        return batches

    # ---------------------------------------------------------------------------------------------------- scoring
    @torch.no_grad()
    def per_row(self, model: PreTrainedModel) -> torch.Tensor:
        """
        Probability of each class's words on each text.

        Returns:
            `torch.Tensor` of shape `(num_texts, num_classes)` in float64 on the CPU (`nan` where the model produced
            non-finite logits).
        """
        device = next(model.parameters()).device
        if self._on_device is None or self._on_device[0] != device:
            self._on_device = (device, [b.to(device) for b in self._batches])
        cells = torch.zeros(self.num_rows * len(self.classes), dtype=torch.float64, device=device)
        for item in self._on_device[1]:
            picked = self.objective.piece_logits(model, item.batch).float()
            log_probs = picked - torch.logsumexp(picked, dim=-1, keepdim=True)
            piece = log_probs[item.piece_query, item.piece_token].double()
            word = torch.zeros(item.num_words, dtype=torch.float64, device=device).index_add(0, item.piece_word, piece)
            cells.index_add_(0, item.word_cell, word.exp())
        return cells.reshape(self.num_rows, len(self.classes)).cpu()

    def __call__(self, model: PreTrainedModel) -> dict:
        """
        Mean probabilities of `model`.

        Returns:
            `dict` with `probabilities`: `{text class: {word class: mean probability}}` when `row_classes` were given
            (else `{"all": {...}}`), and `counts`: texts per text class.
        """
        return summarize(self.per_row(model), self.classes, self.row_classes)


def summarize(per_row: torch.Tensor, classes: Sequence[str], row_classes: Sequence[str] | None) -> dict:
    """Average a `(texts, classes)` probability table per class of text."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(row_classes if row_classes is not None else ["all"] * per_row.shape[0]):
        groups.setdefault(name, []).append(i)
    probabilities = {
        group: {c: float(per_row[index, j].mean()) for j, c in enumerate(classes)}
        for group, index in groups.items()
    }
    return {"probabilities": probabilities, "counts": {g: len(i) for g, i in groups.items()}}


def target_probabilities(
    model: PreTrainedModel,
    objective: TextObjective,
    masked_texts: Sequence[str],
    class_words: Mapping[str, Sequence[str]],
    row_classes: Sequence[str] | None = None,
    case_variants: bool = True,
    batch_size: int = 16,
) -> dict:
    """
    Mean probability of each class's words at the placeholder of `masked_texts` (see [`TargetProbabilityScorer`]).

    Returns:
        `dict` with `probabilities` (`{text class: {word class: mean}}`) and `counts`.

    Example:

    ```python
    >>> from hf_gradiend.evaluation import target_probabilities
    >>> from hf_gradiend.gradients import MaskedLMObjective
    >>> target_probabilities(model, MaskedLMObjective(tokenizer), ["Then [MASK] left."], {"3SG": ["he"]})
    {'probabilities': {'all': {'3SG': 0.42}}, 'counts': {'all': 1}}
    ```
    """
    scorer = TargetProbabilityScorer(objective, masked_texts, class_words, row_classes, case_variants, batch_size)
    return scorer(model)
