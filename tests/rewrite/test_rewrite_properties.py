"""Property tests: merge/unmerge round trips over α, h and sets of kept coordinates."""

from __future__ import annotations

import copy

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from peft import get_peft_model

from hf_gradiend import GradiendModel
from hf_gradiend.gradients import select_parameters
from hf_gradiend.rewrite import adapter_config_from_direction

PARAMS = ["model.layers.0.mlp.up_proj.weight", "model.layers.0.post_attention_layernorm.weight", "model.norm.weight"]
SIZE = 32 * 16 + 16 + 16
finite = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None)
@given(
    alpha=finite,
    feature_value=finite,
    coordinates=st.none() | st.lists(st.integers(0, SIZE - 1), min_size=1, max_size=60, unique=True),
    seed=st.integers(0, 2**16),
)
def test_merge_is_exact_and_unmerge_restores(llama, alpha, feature_value, coordinates, seed):
    base, tokenizer = llama
    selection = select_parameters(base, PARAMS)
    assert selection.num_coordinates == SIZE
    torch.manual_seed(seed)
    kept = torch.tensor(coordinates) if coordinates is not None else None
    direction = GradiendModel.for_base_model(base, selection, coordinates=kept)
    with torch.no_grad():
        direction.decoder.weight.normal_(0.0, 0.1)
        direction.decoder.bias.normal_(0.0, 0.1)
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, alpha, feature_value))
    inputs = dict(tokenizer(["At noon they"], return_tensors="pt"))
    with torch.no_grad():
        unmerged = model(**inputs).logits
        model.merge_adapter(safe_merge=True)
        merged = model(**inputs).logits
    assert torch.equal(merged, unmerged)
    deltas = direction.update_for(feature_value, alpha)
    weights = {n.replace(".base_layer.", "."): p for n, p in model.get_base_model().named_parameters()}
    original = dict(base.named_parameters())
    for name, delta in deltas.items():
        assert torch.equal(weights[name], original[name] + delta), name
    model.unmerge_adapter()
    for name, parameter in original.items():
        scale = 1.0 + float(deltas[name].abs().max()) if name in deltas else 0.0
        torch.testing.assert_close(weights[name], parameter, rtol=0, atol=1e-6 * scale)
