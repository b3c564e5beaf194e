"""Target-class probabilities: exact values per text, pieces, case variants, batch size and padding side."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from hf_gradiend.evaluation import TargetProbabilityScorer, target_probabilities
from hf_gradiend.gradients.objectives import build_objective
from hf_gradiend.testing_utils import toy_templates

WORDS = {"3SG": ["he", "she", "it"], "3PL": ["they"]}


def objective_for(model, tokenizer):
    return build_objective("masked_lm" if "Bert" in type(model).__name__ else "causal_lm", tokenizer)


def alone(model, objective, text, word) -> float:
    """P(word) for one text in a batch of its own (no padding): exp(-loss)."""
    batch = objective.collate([objective.encode(text, word)])
    with torch.no_grad():  # the full logits, indexed afterwards (not the gathered-before-head path under test)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        return math.exp(-float(objective.losses(logits[batch.piece_rows, batch.piece_positions], batch)[0]))


def test_each_text_gets_the_summed_probability_of_its_class_words(lm):
    model, tokenizer = lm
    objective = objective_for(model, tokenizer)
    texts = list(toy_templates()[:5])
    table = TargetProbabilityScorer(objective, texts, WORDS, case_variants=False, batch_size=2).per_row(model)
    for r, text in enumerate(texts):
        for c, words in enumerate(WORDS.values()):
            assert float(table[r, c]) == pytest.approx(sum(alone(model, objective, text, w) for w in words), rel=1e-4)
    assert 0 < float(table.sum(dim=1).min()) and float(table.sum(dim=1).max()) <= 1 + 1e-6


@pytest.mark.parametrize("name", ["lm_llama", "lm_gpt2"])
def test_causal_probabilities_read_each_row_at_its_own_last_token(request, name):
    # Texts of different lengths in one batch: a reader of the padded batch's last column (a pad token for short
    # texts under right padding) would get other numbers than the texts scored alone.
    model, tokenizer = request.getfixturevalue(name)
    texts = ["Then [MASK] left.", "Yesterday afternoon [MASK] walked to the old market.", "At noon [MASK] finally"]
    reference = None
    for side in ("right", "left"):
        tok = copy.deepcopy(tokenizer)
        tok.padding_side = side
        objective = objective_for(model, tok)
        for batch_size in (1, 2, 16):
            table = TargetProbabilityScorer(objective, texts, WORDS, batch_size=batch_size).per_row(model)
            if reference is None:
                reference = table
                solo = [[sum(alone(model, objective, t, v) for w in words for v in {w, w.capitalize(), w.upper()})
                         for words in WORDS.values()] for t in texts]
                assert torch.allclose(table, torch.tensor(solo, dtype=table.dtype), rtol=1e-4, atol=1e-7)
            assert torch.allclose(table, reference, rtol=1e-4, atol=1e-7), (side, batch_size)


def test_masked_multi_piece_word_is_the_product_over_its_masks(lm_bert):
    model, tokenizer = lm_bert
    objective = objective_for(model, tokenizer)
    text = "By the lake [MASK] found a quiet place."
    pieces = tokenizer.tokenize("rests")
    assert len(pieces) == 2  # "rest", "##s"
    ids = tokenizer(text.replace("[MASK]", "[MASK] [MASK]"))["input_ids"]
    masks = [i for i, t in enumerate(ids) if t == tokenizer.mask_token_id]
    with torch.no_grad():
        probs = model(input_ids=torch.tensor([ids])).logits[0].softmax(-1)
    expected = float(probs[masks[0], tokenizer.convert_tokens_to_ids(pieces[0])]
                     * probs[masks[1], tokenizer.convert_tokens_to_ids(pieces[1])])
    got = TargetProbabilityScorer(objective, [text], {"x": ["rests"]}, case_variants=False).per_row(model)
    assert float(got[0, 0]) == pytest.approx(expected, rel=1e-4)


def test_causal_multi_piece_word_follows_the_chain_rule(lm_gpt2):
    model, tokenizer = lm_gpt2
    objective = objective_for(model, tokenizer)
    prefix = "Near the bridge"
    word_ids = tokenizer(" zebras", add_special_tokens=False)["input_ids"]
    assert len(word_ids) > 1
    context = tokenizer(prefix)["input_ids"]
    expected = 1.0
    with torch.no_grad():
        for k, piece in enumerate(word_ids):
            logits = model(input_ids=torch.tensor([context + word_ids[:k]])).logits[0, -1]
            expected *= float(logits.softmax(-1)[piece])
    got = TargetProbabilityScorer(objective, [prefix + " [MASK] saw a car."], {"x": ["zebras"]},
                                  case_variants=False).per_row(model)
    assert float(got[0, 0]) == pytest.approx(expected, rel=1e-4)


def test_case_variants_are_summed_once_each(lm_bert, lm_gpt2):
    # BERT's tokenizer lower-cases, so "He" is "he": counted once.
    model, tokenizer = lm_bert
    objective = objective_for(model, tokenizer)
    texts = ["Later that night [MASK] wrote a short story."]
    with_variants = TargetProbabilityScorer(objective, texts, WORDS).per_row(model)
    without = TargetProbabilityScorer(objective, texts, WORDS, case_variants=False).per_row(model)
    assert torch.allclose(with_variants, without)
    # GPT-2's BPE keeps case: "He", "HE" are other tokens and add their probability.
    model, tokenizer = lm_gpt2
    objective = objective_for(model, tokenizer)
    with_variants = TargetProbabilityScorer(objective, texts, {"x": ["he"]}).per_row(model)
    expected = sum(alone(model, objective, texts[0], w) for w in ("he", "He", "HE"))
    assert float(with_variants[0, 0]) == pytest.approx(expected, rel=1e-4)


def test_means_per_class_of_text(lm_llama, rows):
    model, tokenizer = lm_llama
    objective = objective_for(model, tokenizer)
    masked = [r["masked"] for r in rows]
    classes = [r["factual_class"] for r in rows]
    result = target_probabilities(model, objective, masked, WORDS, row_classes=classes)
    table = TargetProbabilityScorer(objective, masked, WORDS).per_row(model)
    assert result["counts"] == {"3SG": classes.count("3SG"), "3PL": classes.count("3PL")}
    rows_3pl = torch.tensor([c == "3PL" for c in classes])
    assert result["probabilities"]["3PL"]["3SG"] == pytest.approx(float(table[rows_3pl, 0].mean()))
    assert result["probabilities"]["3SG"]["3PL"] == pytest.approx(float(table[~rows_3pl, 1].mean()))


def test_bad_inputs(lm_bert):
    model, tokenizer = lm_bert
    objective = objective_for(model, tokenizer)
    with pytest.raises(ValueError, match="at least one word"):
        TargetProbabilityScorer(objective, ["Then [MASK] left."], {"3SG": ["he"], "3PL": []})
    with pytest.raises(ValueError, match="no masked texts"):
        TargetProbabilityScorer(objective, [], WORDS)
    with pytest.raises(ValueError, match="one per text"):
        TargetProbabilityScorer(objective, ["Then [MASK] left."], WORDS, row_classes=["3SG", "3PL"])
    with pytest.raises(ValueError, match="placeholder"):
        TargetProbabilityScorer(objective, ["Then he left."], WORDS)
    with pytest.raises(ValueError, match="cannot encode"):
        TargetProbabilityScorer(objective, ["Then [MASK] left."], {"x": ["qqqq"]})
