"""What a saved adapter holds: only the kept coordinates of a pruned direction, never dense full-size tensors."""

from __future__ import annotations

import copy

import torch
from peft import get_peft_model
from safetensors import safe_open
from transformers import LlamaConfig, LlamaForCausalLM

from hf_gradiend.rewrite import adapter_config_from_direction


def _saved_tensors(path) -> dict[str, torch.Tensor]:
    with safe_open(str(path / "adapter_model.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_one_percent_pruned_adapter_is_at_most_twice_its_coordinates(llama, make_direction, tmp_path):
    _, tokenizer = llama
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    base = LlamaForCausalLM(config).eval()  # ~0.5M parameters: big enough that file headers do not dominate
    direction = make_direction(base, pruned=True, fraction=0.01)
    kept = direction.config.input_dim
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, 1.0, 1.0))
    model.save_pretrained(tmp_path)
    size = (tmp_path / "adapter_model.safetensors").stat().st_size
    selected_bytes = kept * 2 * direction.decoder.weight.element_size()  # w_d and b_d of the kept coordinates
    assert size <= 2 * selected_bytes, f"{size} bytes for {kept} coordinates ({size / selected_bytes:.2f}x)"
    tensors = _saved_tensors(tmp_path)
    assert sum(t.numel() for k, t in tensors.items() if k.endswith("values")) == 2 * kept
    assert sum(t.numel() for k, t in tensors.items() if k.endswith("index")) == kept
    assert all(t.dtype == torch.int32 for k, t in tensors.items() if k.endswith("index"))


def test_dense_adapter_stores_each_covered_parameter_once(case, tmp_path):
    model = get_peft_model(case.fresh_base(), adapter_config_from_direction(case.direction, 1.0, 1.0))
    model.save_pretrained(tmp_path)
    tensors = _saved_tensors(tmp_path)
    values = sum(t.numel() for k, t in tensors.items() if k.endswith("values"))
    assert values == 2 * case.direction.config.input_dim  # tied copies add nothing
    assert any(k.endswith("index") for k in tensors) == case.pruned
