"""export_lora: a GRADIEND adapter as a LoRA adapter through peft.convert_to_lora, with the error at the asked rank."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model

from hf_gradiend.rewrite import GradiendLayer, adapter_config_from_direction
from hf_gradiend.rewrite.lora import export_lora

LINEAR_WEIGHTS = {
    "bert": ["*.attention.self.*.weight", "*.intermediate.dense.weight"],
    "llama": ["*_proj.weight"],
    "gpt2": ["*.c_attn.weight", "*.c_fc.weight"],  # Conv1D
}


@pytest.fixture(params=sorted(LINEAR_WEIGHTS))
def linear_case(request, make_direction, make_inputs):
    base, tokenizer = request.getfixturevalue(request.param)
    direction = make_direction(base, params=LINEAR_WEIGHTS[request.param], include_head=False)
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, alpha=2.0, feature_value=1.0))
    return base, model, make_inputs(tokenizer)


def test_full_rank_lora_reproduces_the_adapter(linear_case, tmp_path):
    base, model, inputs = linear_case
    export = export_lora(model, rank=1.0, output_dir=tmp_path / "lora")
    assert export.error < 1e-5 and max(export.errors.values()) < 1e-5 and export.skipped == []
    assert json.loads((tmp_path / "lora" / "adapter_config.json").read_text())["peft_type"] == "LORA"
    lora = PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "lora")
    assert isinstance(lora.peft_config["default"], LoraConfig)
    with torch.no_grad():
        torch.testing.assert_close(lora(**inputs).logits, model(**inputs).logits, rtol=1e-4, atol=1e-5)


def test_low_rank_reports_its_error(linear_case):
    _, model, _ = linear_case
    export = export_lora(model, rank=1)
    assert export.config.r == 1 and export.rank == 1
    assert 0.1 < export.error < 1.0  # a random delta is far from rank 1
    wrapped = [n.removeprefix("base_model.model.") for n, m in model.named_modules() if isinstance(m, GradiendLayer)]
    assert set(export.errors) == {f"{name}.weight" for name in wrapped}
    assert all(0.0 < e < 1.0 for e in export.errors.values())


def test_parameters_lora_cannot_carry_are_refused_or_listed(llama, make_direction, tmp_path):
    base, _ = llama
    direction = make_direction(base, params=["model.layers.0.*"], include_head=False)
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, 1.0, 1.0))
    with pytest.raises(ValueError, match="input_layernorm.weight.*skip_unsupported=True"):
        export_lora(model, rank=4, output_dir=tmp_path / "lora")
    assert not (tmp_path / "lora").exists()
    export = export_lora(model, rank=4, skip_unsupported=True)
    norms = ["model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight"]
    assert export.skipped == norms
    assert len(export.errors) == 7


def test_export_refuses_merged_unknown_or_embedding_only_adapters(llama, make_direction, tmp_path):
    base, _ = llama
    direction = make_direction(base, params=["*_proj.weight"], include_head=False)
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(direction, 1.0, 1.0))
    with pytest.raises(ValueError, match="no GRADIEND adapter 'other'"):
        export_lora(model, rank=2, adapter_name="other")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not an empty folder"):
        export_lora(model, rank=2, output_dir=tmp_path / "used")
    model.merge_adapter()
    with pytest.raises(ValueError, match="is merged"):
        export_lora(model, rank=2)
    embeddings = make_direction(base, params=["model.embed_tokens.weight"])
    only = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(embeddings, 1.0, 1.0))
    with pytest.raises(ValueError, match="nothing to express as LoRA"):
        export_lora(only, rank=2, skip_unsupported=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
