"""`hf_gradiend.rewrite` is a self-contained peft tuner: it loads a saved adapter without the direction model,
the trainer or the package's `__init__`."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import torch
from peft import get_peft_model

import hf_gradiend.rewrite
from hf_gradiend.rewrite import adapter_config_from_direction

PACKAGE_DIR = Path(hf_gradiend.rewrite.__file__).resolve().parent.parent

# Runs in a fresh interpreter: a bare `hf_gradiend` module stands in for the package, so its `__init__` never runs.
SCRIPT = """
import importlib, sys, types
package_dir, base_dir, adapter_dir, expected_path = sys.argv[1:]
bare = types.ModuleType("hf_gradiend")
bare.__path__ = [package_dir]
sys.modules["hf_gradiend"] = bare
importlib.import_module("hf_gradiend.rewrite")

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

expected = torch.load(expected_path)
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir).eval()
with torch.no_grad():
    logits = model(input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]).logits
torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-6)
loaded = sorted(name for name in sys.modules if name.startswith("hf_gradiend"))
for forbidden in ("hf_gradiend.modeling_gradiend", "hf_gradiend.training", "hf_gradiend.cards"):
    assert forbidden not in sys.modules, f"{forbidden} was imported: {loaded}"
print("ok")
"""


def test_saved_adapter_loads_with_the_rewrite_package_alone(llama, make_direction, make_inputs, tmp_path):
    base, tokenizer = llama
    base = copy.deepcopy(base)
    direction = make_direction(base, pruned=True)
    config = adapter_config_from_direction(direction, alpha=2.0, feature_value=-1.0)
    peft_model = get_peft_model(copy.deepcopy(base), config).eval()
    inputs = make_inputs(tokenizer)
    with torch.no_grad():
        logits = peft_model(**inputs).logits
        assert not torch.allclose(logits, base(**inputs).logits)  # the adapter changes the outputs
    base.save_pretrained(tmp_path / "base")
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    expected = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"], "logits": logits}
    torch.save(expected, tmp_path / "expected.pt")

    arguments = [str(PACKAGE_DIR), str(tmp_path / "base"), str(tmp_path / "adapter"), str(tmp_path / "expected.pt")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *arguments], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
