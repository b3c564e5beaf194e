"""The language-modelling score: its definition for masked and causal LMs, padding and batch independence."""

from __future__ import annotations

import copy

import pytest
import torch

from hf_gradiend.evaluation import LanguageModelingScorer, language_modeling_score

TARGETS = ["he", "she", "it", "they"]


def eligible(tokenizer, text, excluded=()):
    """Positions of real, non-special tokens not inside an excluded word (computed independently of the scorer)."""
    enc = tokenizer(text, return_offsets_mapping=True)
    special = set(tokenizer.all_special_ids)
    lowered = text.lower()
    spans = []
    for word in excluded:
        start = 0
        while (start := lowered.find(word, start)) >= 0:
            end = start + len(word)
            if (start == 0 or not lowered[start - 1].isalnum()) and (end == len(text) or not lowered[end].isalnum()):
                spans.append((start, end))
            start = end
    return enc["input_ids"], [
        i for i, (tok, (s, e)) in enumerate(zip(enc["input_ids"], enc["offset_mapping"], strict=True))
        if tok not in special and e > s and not any(s < b and e > a for a, b in spans)
    ]


def test_causal_lms_is_next_token_accuracy_on_unpadded_texts(lm_gpt2, neutral_texts):
    model, tokenizer = lm_gpt2
    texts = neutral_texts + ["After school they played near the river."]
    correct = total = 0
    with torch.no_grad():
        for text in texts:  # one text at a time, no padding at all
            ids, positions = eligible(tokenizer, text, TARGETS)
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            scored = [i for i in positions if i > 0]
            correct += sum(int(logits[i - 1].argmax()) == ids[i] for i in scored)
            total += len(scored)
    result = language_modeling_score(model, tokenizer, texts, excluded_words=TARGETS, batch_size=4)
    assert result["total"] == total
    assert result["correct"] == correct
    assert result["lms"] == pytest.approx(correct / total)
    assert 0.5 < result["lms"] <= 1.0  # the tiny model learned these texts


def test_masked_lms_is_top1_accuracy_at_masked_positions(lm_bert, neutral_texts):
    model, tokenizer = lm_bert
    texts = neutral_texts + ["After school they played near the river."]
    # mask_ratio=1 masks every eligible token, so the expected value needs no random draw
    correct = total = 0
    with torch.no_grad():
        for text in texts:
            ids, positions = eligible(tokenizer, text, TARGETS)
            masked = torch.tensor([ids])
            masked[0, positions] = tokenizer.mask_token_id
            logits = model(input_ids=masked).logits[0]
            correct += sum(int(logits[i].argmax()) == ids[i] for i in positions)
            total += len(positions)
    result = language_modeling_score(model, tokenizer, texts, excluded_words=TARGETS, mask_ratio=1.0, batch_size=3)
    assert (result["correct"], result["total"]) == (correct, total)


def test_masked_lms_masks_fifteen_percent_of_eligible_tokens_never_special_or_target(lm_bert, neutral_texts):
    model, tokenizer = lm_bert
    texts = neutral_texts + ["After school they played near the river and they rested."]
    scorer = LanguageModelingScorer(tokenizer, texts, "masked_lm", excluded_words=TARGETS, seed=3)
    expected = sum(max(1, round(0.15 * len(eligible(tokenizer, t, TARGETS)[1]))) for t in texts)
    assert scorer.num_scored == expected
    forbidden = set(tokenizer.all_special_ids) | set(tokenizer.convert_tokens_to_ids(TARGETS))
    for batch in scorer._batches:
        assert not (set(batch.labels.tolist()) & forbidden)
        assert (batch.input_ids[batch.rows, batch.positions] == tokenizer.mask_token_id).all()
        assert (batch.positions > 0).all()  # [CLS] is never masked


def test_masks_are_seeded(lm_bert, neutral_texts):
    model, tokenizer = lm_bert
    first = LanguageModelingScorer(tokenizer, neutral_texts, "masked_lm", seed=5)
    again = LanguageModelingScorer(tokenizer, neutral_texts, "masked_lm", seed=5)
    other = LanguageModelingScorer(tokenizer, neutral_texts, "masked_lm", seed=6)
    positions = [torch.cat([b.positions for b in s._batches]) for s in (first, again, other)]
    assert torch.equal(positions[0], positions[1])
    assert not torch.equal(positions[0], positions[2])
    assert first(model) == again(model)


def test_score_does_not_depend_on_batch_size_or_padding_side(lm, neutral_texts):
    model, tokenizer = lm
    results = []
    for side in ("left", "right"):
        tok = copy.deepcopy(tokenizer)
        tok.padding_side = side
        for batch_size in (1, 5, 32):
            results.append(language_modeling_score(model, tok, neutral_texts, excluded_words=TARGETS,
                                                   batch_size=batch_size))
    for result in results[1:]:
        assert (result["correct"], result["total"]) == (results[0]["correct"], results[0]["total"])
        assert result["nll"] == pytest.approx(results[0]["nll"], abs=1e-5)


def test_target_words_are_not_scored(lm_llama):
    model, tokenizer = lm_llama
    text = ["After school they played near the river."]
    with_target = language_modeling_score(model, tokenizer, text)["total"]
    without = language_modeling_score(model, tokenizer, text, excluded_words=["They"])["total"]  # any case
    assert with_target - without == len(tokenizer(" they", add_special_tokens=False)["input_ids"])


def test_non_finite_logits_give_nan(lm_gpt2, neutral_texts):
    model, tokenizer = lm_gpt2
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.transformer.h[0].mlp.c_fc.weight.fill_(float("inf"))
    result = language_modeling_score(broken, tokenizer, neutral_texts)
    assert result["lms"] != result["lms"]  # nan
    assert result["nll"] != result["nll"]


def test_bad_inputs(lm_bert):
    model, tokenizer = lm_bert
    with pytest.raises(ValueError, match="has a token to score"):
        language_modeling_score(model, tokenizer, ["he", "they"], excluded_words=TARGETS)
    with pytest.raises(ValueError, match="masked_lm"):
        LanguageModelingScorer(tokenizer, ["a text"], "seq2seq")
    with pytest.raises(ValueError, match="mask_ratio"):
        LanguageModelingScorer(tokenizer, ["a text"], "masked_lm", mask_ratio=0)
    with pytest.raises(TypeError, match="list of strings"):
        LanguageModelingScorer(tokenizer, "a text", "masked_lm")
