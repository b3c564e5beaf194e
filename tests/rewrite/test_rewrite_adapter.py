"""The GRADIEND peft tuner on every case (tiny BERT, Llama, GPT-2 × dense and pruned direction), peft's checks."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import PeftModel, get_peft_model
from transformers.pytorch_utils import Conv1D

from hf_gradiend.rewrite import GradiendAdapterConfig, GradiendLayer, adapter_config_from_direction

# Module kinds each case must wrap, so the table really covers every parameter kind a direction can hold.
EXPECTED_KINDS = {
    "bert": {"Linear", "Embedding", "LayerNorm"},
    "llama": {"Linear", "Embedding", "LlamaRMSNorm"},
    "gpt2": {"Conv1D", "Linear", "Embedding", "LayerNorm"},
}


def _adapter(case, base=None, alpha=None, feature_value=None, direction=None):
    config = adapter_config_from_direction(
        direction or case.direction,
        alpha=case.alpha if alpha is None else alpha,
        feature_value=case.feature_value if feature_value is None else feature_value,
    )
    return get_peft_model(base if base is not None else case.fresh_base(), config)


def _layers(model) -> dict[str, GradiendLayer]:
    return {n: m for n, m in model.named_modules() if isinstance(m, GradiendLayer)}


def test_adapter_wraps_every_parameter_kind(case):
    model = _adapter(case)
    kinds = {type(layer.get_base_layer()).__name__ for layer in _layers(model).values()}
    assert EXPECTED_KINDS[case.name] <= kinds
    covered = {a for layer in _layers(model).values() for a in layer.covered_parameters("default")}
    expected = {"weight"} if case.name == "llama" else {"weight", "bias"}  # Llama has no biases
    assert covered == expected


def test_adapter_changes_outputs_and_disable_gives_base(case):
    model = _adapter(case)
    base_logits = case.logits(case.base)
    adapted = case.logits(model)
    assert not torch.allclose(adapted, base_logits, atol=1e-4)
    with model.disable_adapter():
        assert torch.equal(case.logits(model), base_logits)
    assert torch.equal(case.logits(model), adapted)


def test_save_and_load_give_same_logits(case, tmp_path):
    model = _adapter(case)
    adapted = case.logits(model)
    model.save_pretrained(tmp_path)
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in tmp_path.iterdir()}
    reloaded = PeftModel.from_pretrained(case.fresh_base(), tmp_path)
    assert isinstance(reloaded.peft_config["default"], GradiendAdapterConfig)
    assert torch.equal(case.logits(reloaded), adapted)


def test_transformers_load_adapter_gives_same_logits(case, tmp_path):
    model = _adapter(case)
    adapted = case.logits(model)
    model.save_pretrained(tmp_path)
    plain = case.fresh_base()
    plain.load_adapter(str(tmp_path))
    assert torch.equal(case.logits(plain), adapted)
    plain.disable_adapters()
    assert torch.equal(case.logits(plain), case.logits(case.base))


def test_merge_matches_adapter_and_unmerge_restores_base(case):
    model = _adapter(case)
    adapted = case.logits(model)
    model.merge_adapter()
    assert all(layer.merged for layer in _layers(model).values())
    assert torch.equal(case.logits(model), adapted)
    model.unmerge_adapter()
    assert not any(layer.merged for layer in _layers(model).values())
    restored = {n.replace(".base_layer.", "."): p for n, p in model.get_base_model().named_parameters()}
    for name, parameter in case.base.named_parameters():
        torch.testing.assert_close(restored[name], parameter, rtol=0, atol=1e-6)
    torch.testing.assert_close(model.unload()(**case.inputs).logits, case.logits(case.base), rtol=1e-5, atol=1e-5)


def test_disable_after_merge_gives_base(case):
    model = _adapter(case)
    model.merge_adapter()
    with model.disable_adapter():
        torch.testing.assert_close(case.logits(model), case.logits(case.base), rtol=1e-5, atol=1e-5)


def test_merge_and_unload_is_exactly_theta_plus_alpha_dec_h(case):
    model = _adapter(case)
    adapted = case.logits(model)
    plain = model.merge_and_unload(safe_merge=True)
    assert type(plain) is type(case.base)
    assert not _layers(plain)
    deltas = case.direction.update_for(case.feature_value, case.alpha)
    before = dict(case.base.named_parameters(remove_duplicate=False))
    after = dict(plain.named_parameters(remove_duplicate=False))
    assert set(after) == set(before)
    for name, parameter in after.items():
        expected = before[name] + deltas[name] if name in deltas else before[name]
        if name not in deltas and any(before[name] is before[c] for c in deltas):
            continue  # a tied copy of a covered tensor: checked through the tie below
        assert torch.equal(parameter, expected), name
    # Tied input/output embeddings stay one tensor, rewritten once.
    output = plain.get_output_embeddings().weight
    assert output is plain.get_input_embeddings().weight
    assert torch.equal(case.logits(plain), adapted)


def test_two_adapters_add_their_deltas(case, make_direction):
    second = make_direction(case.base, case.pruned, seed=1, params=["*.1.*"], include_head=False)
    model = _adapter(case)
    model.add_adapter("second", adapter_config_from_direction(second, alpha=3.0, feature_value=1.0))
    model.base_model.set_adapter(["default", "second"])
    both = case.logits(model)
    plain = model.merge_and_unload()
    first_deltas = case.direction.update_for(case.feature_value, case.alpha)
    second_deltas = second.update_for(1.0, 3.0)
    before = dict(case.base.named_parameters())
    after = dict(plain.named_parameters())
    for name in set(first_deltas) | set(second_deltas):
        expected = before[name] + first_deltas.get(name, 0.0) + second_deltas.get(name, 0.0)
        torch.testing.assert_close(after[name], expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(case.logits(plain), both, rtol=1e-5, atol=1e-5)


def test_set_scale_changes_alpha_and_h_in_place(case, tmp_path):
    model = _adapter(case)
    model.set_scale(alpha=0.5, feature_value=1.0)
    rebuilt = _adapter(case, alpha=0.5, feature_value=1.0)
    assert torch.equal(case.logits(model), case.logits(rebuilt))
    model.save_pretrained(tmp_path)
    reloaded = PeftModel.from_pretrained(case.fresh_base(), tmp_path)
    assert (reloaded.peft_config["default"].alpha, reloaded.peft_config["default"].feature_value) == (0.5, 1.0)
    assert torch.equal(case.logits(reloaded), case.logits(rebuilt))


def test_set_scale_refuses_a_merged_adapter(case):
    model = _adapter(case)
    model.merge_adapter()
    with pytest.raises(ValueError, match="unmerge_adapter"):
        model.set_scale(alpha=1.0)


def test_get_delta_weight_matches_update_for(case):
    model = _adapter(case)
    deltas = case.direction.update_for(case.feature_value, case.alpha)
    base = model.get_base_model()
    named = ((n.replace(".base_layer.", "."), p) for n, p in base.named_parameters(remove_duplicate=False))
    covered = {id(p): n for n, p in named if n in deltas}  # a tied copy maps to the covered name
    checked = 0
    for layer in _layers(model).values():
        if "default" not in layer.gradiend_layout:
            continue  # holds only a tied copy
        for slot in layer.gradiend_layout["default"].slots:
            name = covered[id(getattr(layer.get_base_layer(), slot.attr))]
            assert torch.equal(layer.get_delta_weight("default", slot.attr), deltas[name]), name
            checked += 1
    assert checked == sum(1 for n in deltas if deltas[n].abs().sum() > 0 or not case.pruned) > 0


def test_conv1d_delta_keeps_the_conv1d_layout(gpt2, make_direction):
    base, _ = gpt2
    direction = make_direction(base, params=["transformer.h.0.attn.c_attn.weight"], include_head=False)
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, 1.0, 1.0))
    layer = model.base_model.model.transformer.h[0].attn.c_attn
    assert isinstance(layer.get_base_layer(), Conv1D)
    assert layer.get_delta_weight("default").shape == layer.get_base_layer().weight.shape == (16, 48)


@pytest.mark.parametrize("pruned", [False, True], ids=["dense", "pruned"])
def test_half_precision_base_keeps_the_direction_exact(llama, make_direction, make_inputs, tmp_path, pruned):
    base, tokenizer = llama
    half = copy.deepcopy(base).to(torch.bfloat16)
    direction = make_direction(base, pruned)
    model = get_peft_model(copy.deepcopy(half), adapter_config_from_direction(direction, 2.0, -1.0))
    assert {p.dtype for n, p in model.named_parameters() if "gradiend_values" in n} == {torch.float32}
    inputs = make_inputs(tokenizer)
    with torch.no_grad():
        adapted = model(**inputs).logits
    model.save_pretrained(tmp_path)
    reloaded = copy.deepcopy(half)
    reloaded.load_adapter(str(tmp_path))
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs).logits, adapted)
    plain = model.merge_and_unload(safe_merge=True)
    before, after = dict(half.named_parameters()), dict(plain.named_parameters())
    for name, delta in direction.update_for(-1.0, 2.0).items():
        assert torch.equal(after[name], before[name] + delta.to(torch.bfloat16)), name


def test_deleting_one_of_two_adapters_leaves_the_other(case, make_direction):
    second = make_direction(case.base, case.pruned, seed=1)
    model = _adapter(case)
    alone = case.logits(model)
    model.add_adapter("second", adapter_config_from_direction(second, alpha=3.0, feature_value=1.0))
    model.base_model.set_adapter(["default", "second"])
    model.delete_adapter("second")
    assert model.active_adapters == ["default"]
    assert torch.equal(case.logits(model), alone)
    assert all("second" not in layer.held_adapters() for layer in _layers(model).values())
