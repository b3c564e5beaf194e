"""Bad inputs to the rewrite: each gives a clear error, and neither the model nor the disk is changed."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import PeftConfig, PeftModel, get_peft_model

from hf_gradiend import GradiendConfig, GradiendModel, LatentDimError, ParameterMismatchError
from hf_gradiend.gradients import ParameterSelection, select_parameters
from hf_gradiend.rewrite import GradiendAdapterConfig, GradiendLayer, adapter_config_from_direction
from hf_gradiend.testing_utils import tiny_llama


def _untouched(model, reference) -> bool:
    """No adapter layer in `model` and every parameter equal to `reference`'s."""
    if any(isinstance(m, GradiendLayer) for m in model.modules()):
        return False
    expected = dict(reference.named_parameters())
    return all(torch.equal(p, expected[n]) for n, p in model.named_parameters())


def test_base_model_with_other_parameters_is_refused(llama, make_direction):
    base, tokenizer = llama
    other = tiny_llama(tokenizer)
    other.config.intermediate_size = 48
    other = type(other)(other.config)  # same names, other MLP shapes
    reference = copy.deepcopy(other)
    config = adapter_config_from_direction(make_direction(base), alpha=1.0, feature_value=1.0)
    with pytest.raises(ParameterMismatchError, match=r"model\.layers\.0\.mlp\.gate_proj\.weight.*shape"):
        get_peft_model(other, config)
    assert _untouched(other, reference)


def test_other_architecture_is_refused_on_load(llama, gpt2, make_direction, tmp_path):
    base, _ = llama
    get_peft_model(copy.deepcopy(base), adapter_config_from_direction(make_direction(base), 1.0, 1.0)).save_pretrained(
        tmp_path
    )
    wrong = copy.deepcopy(gpt2[0])
    with pytest.raises(ParameterMismatchError, match="has no parameter 'model.embed_tokens.weight'"):
        PeftModel.from_pretrained(wrong, tmp_path)
    assert _untouched(wrong, gpt2[0])


def test_edited_adapter_config_is_refused(llama, make_direction, tmp_path):
    base, _ = llama
    config = adapter_config_from_direction(make_direction(base), 1.0, 1.0)
    config.save_pretrained(tmp_path)
    path = tmp_path / "adapter_config.json"
    path.write_text(path.read_text().replace('"param_fingerprint": "', '"param_fingerprint": "0'))
    with pytest.raises(ValueError, match="param_fingerprint"):
        PeftConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "large", True])
def test_non_finite_or_non_numeric_scalars_are_refused(llama, make_direction, value):
    base, _ = llama
    with pytest.raises(ValueError, match="alpha=.* must be a finite number"):
        adapter_config_from_direction(make_direction(base), alpha=value, feature_value=1.0)


@pytest.mark.parametrize("method", ["merge_and_unload", "merge_adapter"])
def test_nan_in_the_delta_is_caught_by_safe_merge_before_any_write(llama, make_direction, method):
    base, _ = llama
    direction = make_direction(base)
    with torch.no_grad():
        direction.decoder.weight[-1, 0] = float("nan")  # the last covered parameter: found after others would merge
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, 1.0, 1.0))
    with pytest.raises(ValueError, match="NaN or infinite; nothing was merged"):
        getattr(model, method)(safe_merge=True)
    layers = [m for m in model.modules() if isinstance(m, GradiendLayer)]
    assert layers and not any(m.merged for m in layers)
    assert _untouched(model.unload(), base)


def test_overflow_to_inf_is_caught_by_safe_merge(gpt2, make_direction):
    base, _ = gpt2
    direction = make_direction(base)
    with torch.no_grad():
        direction.decoder.weight[0, 0] = 100.0  # 1e38 * 100 overflows float32
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, 1e38, 1.0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.merge_and_unload(safe_merge=True)
    assert _untouched(model.unload(), base)


def test_direction_that_cannot_rewrite_is_refused(bert, make_direction):
    base, _ = bert
    with pytest.raises(LatentDimError, match="latent_dim=2"):
        selection = select_parameters(base, ["*.layer.1.output.dense.*"])
        adapter_config_from_direction(GradiendModel.for_base_model(base, selection, latent_dim=2), 1.0, 1.0)
    with pytest.raises(ValueError, match="no parameter map"):
        adapter_config_from_direction(GradiendModel(GradiendConfig(input_dim=8)), 1.0, 1.0)
    selection = select_parameters(base, ["*.layer.1.output.dense.bias"])
    twice = GradiendModel.for_base_model(base, selection, coordinates=torch.tensor([3, 5, 3]))
    with pytest.raises(ValueError, match="keeps coordinate 3 twice"):
        adapter_config_from_direction(twice, 1.0, 1.0)


def test_one_tensor_covered_under_two_names_is_refused(llama):
    base, _ = llama
    shape = list(base.model.embed_tokens.weight.shape)
    names = ["model.embed_tokens.weight", "lm_head.weight"]
    config = GradiendAdapterConfig(param_names=names, param_shapes=[shape] * 2)
    model = copy.deepcopy(base)
    with pytest.raises(ValueError, match="same \\(tied\\) tensor"):
        get_peft_model(model, config)
    assert _untouched(model, base)


def test_config_needs_parameters_and_consistent_counts():
    with pytest.raises(ValueError, match="needs param_names"):
        GradiendAdapterConfig()
    with pytest.raises(ValueError, match="one shape per"):
        GradiendAdapterConfig(param_names=["a.weight"], param_shapes=[])
    with pytest.raises(ValueError, match="coordinate_counts"):
        GradiendAdapterConfig(param_names=["a.weight"], param_shapes=[[2, 2]], coordinate_counts=[5])
    with pytest.raises(ValueError, match="activation_decoder"):
        GradiendAdapterConfig(param_names=["a.weight"], param_shapes=[[2]], activation_decoder="softmax")
    selection = ParameterSelection(("a.weight",), ((2, 2),))
    assert GradiendAdapterConfig(param_names=["a.weight"], param_shapes=[[2, 2]]).param_fingerprint == (
        selection.fingerprint
    )


def test_adapter_without_values_starts_as_the_base_model(llama, make_inputs):
    base, tokenizer = llama
    shape = list(base.model.layers[0].mlp.up_proj.weight.shape)
    config = GradiendAdapterConfig(param_names=["model.layers.0.mlp.up_proj.weight"], param_shapes=[shape])
    model = get_peft_model(copy.deepcopy(base), config)
    inputs = make_inputs(tokenizer)
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, base(**inputs).logits)
