"""trainer.rewrite_base_model / rewrite_adapter: choice of (α, h), rewritten checkpoints, cards, Hub upload."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
from peft import PeftModel

from hf_gradiend import GradiendTrainer, GradiendTrainingArguments
from hf_gradiend.rewrite.output import PROVENANCE_FILE
from hf_gradiend.testing_utils import tiny_bpe_tokenizer, tiny_gpt2, toy_rows
from hf_gradiend.training.rewriting import RewriteChoice, RewriteMixin, choose_rewrite

# Until GradiendTrainer lists RewriteMixin among its bases, test the mixin on a subclass.
Trainer = GradiendTrainer if issubclass(GradiendTrainer, RewriteMixin) else type(
    "RewriteTrainer", (RewriteMixin, GradiendTrainer), {}
)

RESULTS = {
    "3SG": {
        "learning_rate": 5.0, "feature_value": 1.0, "lms": 0.25, "base_lms": 0.26, "target_probability": 0.31,
        "base_target_probability": 0.12, "target_class": "3SG", "increase": True, "measured_on": "3PL",
    },
    "3PL_weaken": {
        "learning_rate": 2.0, "feature_value": 1.0, "lms": 0.24, "base_lms": 0.26, "target_probability": 0.7,
        "base_target_probability": 0.5, "target_class": "3PL", "increase": False,
    },
    "grid": [{"learning_rate": 5.0, "feature_value": 1.0, "status": "evaluated"}],
    "base": {"learning_rate": None, "feature_value": None, "status": "base"},
    "settings": {"policy": "lms-threshold"},
}


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    """A GRADIEND trained for 2 steps on GPT-2's second block (tied embeddings, Conv1D weights)."""
    tokenizer = tiny_bpe_tokenizer()
    base = tiny_gpt2(tokenizer)
    for parameter in base.parameters():
        parameter.requires_grad_(False)
    args = GradiendTrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("train")), max_steps=2, learning_rate=1e-3, gradient_batch_size=4,
        seed=0, use_cpu=True, report_to=[], params=["transformer.h.1.*"], save_strategy="no",
    )
    trainer = Trainer(base, args=args, train_dataset=toy_rows(), processing_class=tokenizer)
    trainer.train()
    with torch.no_grad():  # a visible rewrite: the 2-step decoder is tiny
        trainer.get_model().decoder.weight.mul_(50.0)
    return trainer


def _inputs(trainer):
    return dict(trainer.tokenizer(["At noon they", "By the lake she"], return_tensors="pt", padding=True))


def _state(trainer) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in trainer.base_model.named_parameters()}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------------------- choosing α, h
def test_choose_rewrite_reads_strengthen_and_weaken_entries():
    strengthen = choose_rewrite(RESULTS, "3SG")
    assert (strengthen.alpha, strengthen.feature_value, strengthen.metrics["lms"]) == (5.0, 1.0, 0.25)
    weaken = choose_rewrite(RESULTS, "3PL", increase=False)
    assert (weaken.alpha, weaken.target_class, weaken.increase) == (2.0, "3PL", False)
    assert choose_rewrite(RESULTS).target_class == "3SG"  # the only strengthening entry
    assert choose_rewrite(RESULTS, increase=False).target_class == "3PL"


def test_choose_rewrite_overrides_and_explicit_values():
    overridden = choose_rewrite(RESULTS, "3SG", alpha=1.0)
    assert (overridden.alpha, overridden.feature_value, overridden.metrics) == (1.0, 1.0, {})
    assert choose_rewrite(alpha=0.1, feature_value=-1.0) == RewriteChoice(0.1, -1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_class": "3PL"}, "no entry to strengthen target_class='3PL' \\(key '3PL'\\)"),
        ({"target_class": "3SG", "increase": False}, "no entry to weaken target_class='3SG' \\(key '3SG_weaken'\\)"),
    ],
)
def test_choose_rewrite_names_missing_entries(kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_rewrite(RESULTS, **kwargs)


def test_choose_rewrite_needs_results_or_both_values():
    with pytest.raises(ValueError, match="Pass decoder_results"):
        choose_rewrite(None, alpha=1.0)
    with pytest.raises(ValueError, match="Pass target_class"):
        choose_rewrite({"3SG": RESULTS["3SG"], "3PL": RESULTS["3SG"]})
    with pytest.raises(ValueError, match="unmodified base model"):
        choose_rewrite({"3SG": RESULTS["base"]}, "3SG")
    with pytest.raises(TypeError, match="not list"):
        choose_rewrite([RESULTS], "3SG")


# ------------------------------------------------------------------------------------------------ rewriting
def test_rewrite_base_model_returns_theta_plus_alpha_dec_h(trainer):
    before = _state(trainer)
    model = trainer.rewrite_base_model(RESULTS, target_class="3SG")
    deltas = trainer.get_model().update_for(1.0, 5.0)
    after = dict(model.named_parameters())
    for name, parameter in before.items():
        expected = parameter + deltas[name] if name in deltas else parameter
        assert torch.equal(after[name], expected), name
        assert after[name].requires_grad == trainer.base_model.get_parameter(name).requires_grad
    assert all(torch.equal(p, before[n]) for n, p in trainer.base_model.named_parameters())  # a copy was rewritten
    assert type(model) is type(trainer.base_model)


def test_rewrite_adapter_is_an_unmerged_peft_model(trainer):
    adapter = trainer.rewrite_adapter(RESULTS, target_class="3SG")
    assert isinstance(adapter, PeftModel)
    inputs = _inputs(trainer)
    with torch.no_grad():
        base_logits = trainer.base_model(**inputs).logits
        assert not torch.allclose(adapter(**inputs).logits, base_logits)
        with adapter.disable_adapter():
            assert torch.equal(adapter(**inputs).logits, base_logits)
    with pytest.raises(ValueError, match="not one of the feature classes"):
        trainer.rewrite_adapter(alpha=1.0, feature_value=1.0, target_class="1SG")


@pytest.mark.slow  # a second Python process (~20 s of imports on a busy machine)
def test_output_dir_loads_in_a_fresh_process_without_hf_gradiend(trainer, tmp_path):
    out = tmp_path / "rewritten"
    model = trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=out)
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", PROVENANCE_FILE, "adapter"} <= {
        p.name for p in out.iterdir()
    }
    inputs = _inputs(trainer)
    with torch.no_grad():
        expected = model(**inputs).logits
    torch.save({"inputs": inputs, "logits": expected}, tmp_path / "expected.pt")
    script = f"""
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained({str(out)!r})
tokenizer = AutoTokenizer.from_pretrained({str(out)!r})
saved = torch.load({str(tmp_path / 'expected.pt')!r})
with torch.no_grad():
    logits = model(**saved["inputs"]).logits
assert "hf_gradiend" not in sys.modules and "peft" not in sys.modules
assert torch.equal(logits, saved["logits"]), (logits - saved["logits"]).abs().max()
assert model.lm_head.weight is model.transformer.wte.weight
print("ok", type(tokenizer).__name__)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")


def test_output_dir_card_and_adapter(trainer, tmp_path):
    out = tmp_path / "rewritten"
    model = trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=out)
    card = (out / "README.md").read_text()
    for text in ("strengthen", "`3SG`", "α = 5.0", "h = 1.0", "| Language-modelling score (LMS) | 0.26 | 0.25 |",
                 "| P(3SG) | 0.12 | 0.31 |", "library_name: transformers", "AutoModelForCausalLM"):
        assert text in card, text
    provenance = json.loads((out / PROVENANCE_FILE).read_text())
    assert (provenance["alpha"], provenance["target_class"], provenance["increase"]) == (5.0, "3SG", True)
    adapter = PeftModel.from_pretrained(copy.deepcopy(trainer.base_model), out, subfolder="adapter")
    inputs = _inputs(trainer)
    with torch.no_grad():
        assert torch.equal(adapter(**inputs).logits, model(**inputs).logits)
    assert "library_name: peft" in (out / "adapter" / "README.md").read_text()


def test_output_dir_refuses_a_different_model_unless_overwrite(trainer, tmp_path):
    out = tmp_path / "rewritten"
    trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=out)
    trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=out)  # the same rewrite may be redone
    snapshot = _files(out)
    with pytest.raises(ValueError, match="already holds a different rewrite \\(differs in alpha, increase"):
        trainer.rewrite_base_model(RESULTS, target_class="3PL", increase=False, output_dir=out)
    assert _files(out) == snapshot
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a different model"):
        trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=foreign)
    assert _files(foreign) == {"config.json": b"{}"}
    trainer.rewrite_base_model(RESULTS, target_class="3PL", increase=False, output_dir=out, overwrite=True)
    assert json.loads((out / PROVENANCE_FILE).read_text())["target_class"] == "3PL"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "rewritten"]  # no staging folders left


def test_bad_requests_write_nothing(trainer, tmp_path):
    out = tmp_path / "rewritten"
    with pytest.raises(ValueError, match="no entry to strengthen target_class='3PL'"):
        trainer.rewrite_base_model(RESULTS, target_class="3PL", output_dir=out)
    with pytest.raises(ValueError, match="needs hub_model_id"):
        trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=out, push_to_hub=True)
    direction = trainer.get_model()
    saved = direction.decoder.weight.detach().clone()
    try:
        with torch.no_grad():
            direction.decoder.weight[-1, 0] = float("nan")
        with pytest.raises(ValueError, match="NaN or infinite"):
            trainer.rewrite_base_model(RESULTS, target_class="3SG", output_dir=out)
    finally:
        with torch.no_grad():
            direction.decoder.weight.copy_(saved)
    assert list(tmp_path.iterdir()) == []


def test_push_to_hub_uploads_the_folder_with_the_hub_client_patched(trainer):
    uploaded = {}

    def upload_folder(**kwargs):
        uploaded.update(kwargs, files={p.name for p in Path(kwargs["folder_path"]).iterdir()})
        return mock.Mock(commit_url="https://huggingface.co/me/rewritten/commit/1")

    api = mock.Mock(upload_folder=mock.Mock(side_effect=upload_folder))
    with mock.patch("huggingface_hub.HfApi", return_value=api) as client:
        trainer.rewrite_base_model(RESULTS, target_class="3SG", push_to_hub=True, hub_model_id="me/rewritten",
                                   hub_private=True, hub_token="secret")
    client.assert_called_once_with(token="secret")
    api.create_repo.assert_called_once_with("me/rewritten", private=True, exist_ok=True, repo_type="model")
    assert uploaded["repo_id"] == "me/rewritten"
    assert {"config.json", "model.safetensors", "README.md", "adapter"} <= uploaded["files"]
    assert "strengthen 3SG" in uploaded["commit_message"]
