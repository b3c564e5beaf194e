"""Parameter selection by globs, head exclusion, layout checks."""

from __future__ import annotations

import pytest
import torch

from hf_gradiend.gradients import ParameterSelection, head_parameter_names, select_parameters


def test_head_is_excluded_by_default(bert, llama, gpt2):
    bert_names = select_parameters(bert[0]).names
    assert not any(n.startswith("cls.") for n in bert_names)
    assert "bert.embeddings.word_embeddings.weight" not in bert_names  # tied to the MLM decoder
    llama_names = select_parameters(llama[0]).names
    assert "model.embed_tokens.weight" not in llama_names and "lm_head.weight" not in llama_names
    gpt2_names = select_parameters(gpt2[0]).names
    assert "transformer.wte.weight" not in gpt2_names and "transformer.wpe.weight" in gpt2_names
    assert "model.embed_tokens.weight" in head_parameter_names(llama[0])


def test_include_head_and_globs(bert):
    with_head = select_parameters(bert[0], include_head=True).names
    assert "bert.embeddings.word_embeddings.weight" in with_head
    names = select_parameters(bert[0], ["*.layer.1.attention.self.*", "*.layer.[1].attention.self.query.*"]).names
    assert names and all(".layer.1.attention.self." in n for n in names)


def test_glob_matching_nothing_lists_close_names(bert):
    with pytest.raises(ValueError, match=r"'bert\.encoder\.layers\.\*'.*Close names"):
        select_parameters(bert[0], ["bert.encoder.layers.*"])


def test_glob_matching_only_the_head_says_how_to_include_it(bert):
    with pytest.raises(ValueError, match="include_head=True"):
        select_parameters(bert[0], ["cls.*"])


def test_offsets_split_and_locate(bert):
    selection = select_parameters(bert[0], ["*.layer.0.output.dense.*"])
    assert selection.names == ("bert.encoder.layer.0.output.dense.weight", "bert.encoder.layer.0.output.dense.bias")
    assert selection.offsets == [0, 16 * 32] and selection.num_coordinates == 16 * 32 + 16
    parts = selection.split(torch.arange(selection.num_coordinates, dtype=torch.float))
    assert parts["bert.encoder.layer.0.output.dense.weight"].shape == (16, 32)
    assert parts["bert.encoder.layer.0.output.dense.bias"][2] == 16 * 32 + 2
    assert selection.locate(torch.tensor([5, 16 * 32 + 1])) == [
        ("bert.encoder.layer.0.output.dense.weight", 5), ("bert.encoder.layer.0.output.dense.bias", 1)
    ]
    assert selection.fingerprint == ParameterSelection(selection.names, selection.shapes).fingerprint
