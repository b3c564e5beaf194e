"""Masked- and causal-LM objectives: where the target word is read, and clear errors for bad rows."""

from __future__ import annotations

import pytest
import torch

from hf_gradiend.gradients import CausalLMObjective, MaskedLMObjective, infer_objective_name
from hf_gradiend.gradients.objectives import build_objective


def test_masked_lm_expands_the_placeholder_to_one_mask_per_piece(bert):
    _, tokenizer = bert
    objective = MaskedLMObjective(tokenizer)
    encoded = objective.encode("After school [MASK] played near the river.", "homes")
    tokens = tokenizer.convert_ids_to_tokens(list(encoded.input_ids))
    assert tokens[:5] == ["[CLS]", "after", "school", "[MASK]", "[MASK]"]
    assert tokenizer.convert_ids_to_tokens(list(encoded.target_ids)) == ["home", "##s"]
    assert encoded.positions == (3, 4)


def test_causal_lm_targets_the_space_prefixed_token(llama):
    _, tokenizer = llama
    objective = CausalLMObjective(tokenizer)
    encoded = objective.encode("Yesterday afternoon [MASK] walked to the old market.", "they")
    assert tokenizer.convert_ids_to_tokens(list(encoded.target_ids)) == ["Ġthey"]
    # the text is cut after the word; the last input token predicts it
    assert tokenizer.convert_ids_to_tokens(list(encoded.input_ids))[-1] == "noon"
    assert encoded.positions == (len(encoded.input_ids) - 1,)


def test_causal_lm_scores_multi_piece_words_piece_by_piece(gpt2):
    _, tokenizer = gpt2
    encoded = CausalLMObjective(tokenizer).encode("In the morning [MASK] read the news.", "theyx")
    assert len(encoded.target_ids) >= 2
    pieces = tokenizer.convert_ids_to_tokens(list(encoded.target_ids))
    assert "".join(pieces).replace("Ġ", " ") == " theyx"
    # earlier pieces are part of the input, each position predicts the next piece
    assert list(encoded.input_ids[-(len(pieces) - 1):]) == list(encoded.target_ids[:-1])
    assert encoded.positions == tuple(range(len(encoded.input_ids) - len(pieces), len(encoded.input_ids)))


def test_text_without_placeholder_is_refused(bert):
    with pytest.raises(ValueError, match=r"has no placeholder '\[MASK\]'"):
        MaskedLMObjective(bert[1]).encode("No marker here.", "he")


def test_word_the_tokenizer_cannot_encode_is_refused(bert):
    with pytest.raises(ValueError, match="cannot encode the target word 'zebra'"):
        MaskedLMObjective(bert[1]).encode("At noon [MASK] answered.", "zebra")


def test_causal_lm_needs_left_context(gpt2):
    with pytest.raises(ValueError, match="no left context"):
        CausalLMObjective(gpt2[1]).encode("[MASK] went home.", "they")


def test_word_merged_with_its_neighbour_is_refused(gpt2):
    with pytest.raises(ValueError, match="shares a token with its neighbours"):
        CausalLMObjective(gpt2[1]).encode("In the morning [MASK]ed home.", "walk")


def test_objective_is_inferred(bert, llama, gpt2):
    assert infer_objective_name(bert[0]) == "masked_lm"
    assert infer_objective_name(llama[0]) == "causal_lm"
    assert infer_objective_name(gpt2[0]) == "causal_lm"


def test_piece_logits_project_only_the_target_positions(tiny_lm):
    model, tokenizer = tiny_lm
    objective = build_objective(infer_objective_name(model), tokenizer)
    texts = ["Yesterday afternoon [MASK] walked to the old market.", "At noon [MASK] answered."]
    batch = objective.collate([objective.encode(t, w) for t, w in zip(texts, ["they", "homes"], strict=True)])
    head_inputs = []
    handle = model.get_output_embeddings().register_forward_hook(lambda m, a, o: head_inputs.append(a[0].shape))
    try:
        with torch.no_grad():
            gathered = objective.piece_logits(model, batch)
            full = objective.piece_logits(model, batch, gather_before_head=False)
    finally:
        handle.remove()
    pieces = len(batch.piece_ids)
    assert head_inputs[0] == (pieces, model.config.hidden_size)  # the vocabulary projection saw the targets only
    assert head_inputs[1] == (*batch.input_ids.shape, model.config.hidden_size)
    assert gathered.shape == (pieces, model.config.vocab_size)
    torch.testing.assert_close(gathered, full, rtol=1e-5, atol=1e-5)
