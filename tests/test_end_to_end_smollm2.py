"""The whole workflow on the real SmolLM2-135M, a few steps: contracts, not quality numbers."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_gradiend import (
    GradiendTrainingArguments,
    PostPruneConfig,
    PrePruneConfig,
    TextFilterConfig,
    TextPredictionDataCreator,
    TextPredictionTrainer,
)
from hf_gradiend.offline_assets import MissingAssetError, smollm2_path


@pytest.mark.slow
def test_workflow_on_smollm2(tmp_path):
    try:
        path = smollm2_path()
    except MissingAssetError as error:
        pytest.skip(str(error))
    creator = TextPredictionDataCreator(
        base_data="wordnet", min_left_context_words=2, seed=0,
        feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")],
    )
    data = creator.generate_training_data(max_size_per_class=40)
    neutral = creator.generate_neutral_data(additional_excluded_words=["i", "we", "you"], max_size=8)
    args = GradiendTrainingArguments(
        output_dir=str(tmp_path / "direction"), max_steps=3, learning_rate=1e-4, gradient_batch_size=4,
        params=["model.layers.29.mlp.*"], pre_prune=PrePruneConfig(n_samples=4, topk=0.05),
        post_prune=PostPruneConfig(topk=0.5), use_cpu=True, disable_tqdm=True, logging_strategy="no",
        gradient_cache_dir=str(tmp_path / "cache"),
    )
    trainer = TextPredictionTrainer(str(path), data=data, eval_neutral_data=neutral, args=args)
    trainer.train()
    direction = trainer.get_model()
    assert direction.config.pruned and direction.config.feature_classes == ["3SG", "3PL"]
    assert (tmp_path / "direction" / "model.safetensors").exists()

    encoder = trainer.evaluate_encoder(split="test", max_size=4)
    assert math.isfinite(encoder["correlation"]) and set(encoder["mean_by_feature_class"]) == {"3SG", "3PL"}

    name = "model.layers.29.mlp.down_proj.weight"
    before = dict(trainer.base_model.named_parameters())[name].detach().clone()
    results = trainer.evaluate_decoder(target_class="3SG", learning_rates=[1e-3, 1e-2], feature_values=(1.0,),
                                       max_size=4)
    assert torch.equal(dict(trainer.base_model.named_parameters())[name], before)  # restored bit for bit
    chosen = results["3SG"]
    assert 0 <= chosen["lms"] <= 1 and 0 <= chosen["target_probability"] <= 1

    trainer.rewrite_base_model(results, target_class="3SG", output_dir=tmp_path / "rewritten")
    rewritten = AutoModelForCausalLM.from_pretrained(tmp_path / "rewritten")
    AutoTokenizer.from_pretrained(tmp_path / "rewritten")
    delta = direction.update_for(chosen["feature_value"], chosen["learning_rate"])[name]
    torch.testing.assert_close(dict(rewritten.named_parameters())[name].detach(), before + delta)
