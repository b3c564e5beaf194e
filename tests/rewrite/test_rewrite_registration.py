"""Contract with peft: GRADIEND is registered in the tables peft reads. Fails loudly when a peft upgrade breaks it."""

from __future__ import annotations

import json

import peft
import peft.mapping
import peft.mapping_func
import peft.peft_model
import peft.tuners.tuners_utils
import peft.utils.hotswap
import peft.utils.save_and_load
import pytest
from peft import PeftConfig, get_peft_config, inject_adapter_in_model

from hf_gradiend.rewrite import (
    GradiendAdapterConfig,
    GradiendAdapterModel,
    GradiendLayer,
    GradiendPeftType,
    adapter_config_from_direction,
    register_gradiend_tuner,
)
from hf_gradiend.rewrite.registration import PREFIX

TABLES = {
    "PEFT_TYPE_TO_CONFIG_MAPPING": GradiendAdapterConfig,
    "PEFT_TYPE_TO_TUNER_MAPPING": GradiendAdapterModel,
    "PEFT_TYPE_TO_PREFIX_MAPPING": PREFIX,
}
# Modules that bind the tables by name at import time; they must still hold the very dicts we write into.
READERS = {
    peft.peft_model: ("PEFT_TYPE_TO_CONFIG_MAPPING", "PEFT_TYPE_TO_PREFIX_MAPPING", "PEFT_TYPE_TO_TUNER_MAPPING"),
    peft.mapping_func: ("PEFT_TYPE_TO_PREFIX_MAPPING",),
    peft.tuners.tuners_utils: ("PEFT_TYPE_TO_PREFIX_MAPPING",),
    peft.utils.save_and_load: ("PEFT_TYPE_TO_TUNER_MAPPING",),
    peft.utils.hotswap: ("PEFT_TYPE_TO_CONFIG_MAPPING", "PEFT_TYPE_TO_PREFIX_MAPPING"),
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_gradiend_is_in_each_peft_table_under_member_and_string(table):
    mapping = getattr(peft.mapping, table)
    assert mapping[GradiendPeftType.GRADIEND] == TABLES[table]
    assert mapping["GRADIEND"] == TABLES[table]  # adapter_config.json stores the plain string


@pytest.mark.parametrize("module", list(READERS), ids=lambda m: m.__name__)
def test_peft_readers_use_the_registered_tables(module):
    for table in READERS[module]:
        assert getattr(module, table) is getattr(peft.mapping, table), f"{module.__name__}.{table} is a copy"


def test_registration_is_idempotent_and_refuses_a_foreign_method(monkeypatch):
    register_gradiend_tuner(GradiendAdapterConfig, GradiendAdapterModel)
    register_gradiend_tuner(GradiendAdapterConfig, GradiendAdapterModel)
    assert peft.mapping.PEFT_TYPE_TO_TUNER_MAPPING["GRADIEND"] is GradiendAdapterModel
    monkeypatch.setitem(peft.mapping.PEFT_TYPE_TO_TUNER_MAPPING, GradiendPeftType.GRADIEND, object)
    with pytest.raises(RuntimeError, match="another package"):
        register_gradiend_tuner(GradiendAdapterConfig, GradiendAdapterModel)


def test_registration_reports_a_missing_table(monkeypatch):
    monkeypatch.delattr(peft.mapping, "PEFT_TYPE_TO_PREFIX_MAPPING")
    with pytest.raises(ImportError, match="PEFT_TYPE_TO_PREFIX_MAPPING"):
        register_gradiend_tuner(GradiendAdapterConfig, GradiendAdapterModel)


def test_config_json_round_trip_through_peft_generic_loaders(llama, make_direction, tmp_path):
    base, _ = llama
    config = adapter_config_from_direction(make_direction(base, pruned=True), alpha=0.5, feature_value=-1.0)
    assert config.peft_type is GradiendPeftType.GRADIEND
    config.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "adapter_config.json").read_text())
    assert stored["peft_type"] == "GRADIEND"
    assert "direction_weights" not in stored  # values live in the safetensors file only
    loaded = PeftConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, GradiendAdapterConfig)
    assert (loaded.alpha, loaded.feature_value, loaded.coordinate_counts) == (0.5, -1.0, config.coordinate_counts)
    assert isinstance(get_peft_config(stored), GradiendAdapterConfig)


def test_inject_adapter_in_model_path_used_by_transformers(llama, make_direction):
    import copy

    base, _ = llama
    model = inject_adapter_in_model(
        adapter_config_from_direction(make_direction(base), alpha=1.0, feature_value=1.0), copy.deepcopy(base)
    )
    assert any(isinstance(m, GradiendLayer) for m in model.modules())
    assert GradiendAdapterModel.uses_shared_state is False  # transformers' load_adapter refuses shared-state tuners


def test_saved_tensor_names_carry_the_prefix(llama, make_direction):
    import copy

    from peft import get_peft_model, get_peft_model_state_dict

    base, _ = llama
    model = get_peft_model(copy.deepcopy(base), adapter_config_from_direction(make_direction(base, True), 1.0, 1.0))
    keys = list(get_peft_model_state_dict(model))
    assert keys and all(f".{PREFIX}values" in k or f".{PREFIX}index" in k for k in keys)
    assert not any(".default" in k for k in keys)
