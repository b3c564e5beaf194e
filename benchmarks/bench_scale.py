"""Scale: an unpruned GRADIEND over every weight of SmolLM2-135M (the prediction head aside) trains within 24 GiB.

Trains a direction over all 106M selected coordinates (no pre-pruning, no post-pruning) for a few steps on WordNet
3SG vs 3PL groups of 8 texts, without the gradient cache, and prints a table: the coordinates, the trainer's memory
estimate by part, the measured peak resident memory of the process, and the mean step time.

Usage: `HF_HUB_OFFLINE=1 python benchmarks/bench_scale.py [--steps 3]`
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time

import transformers

from hf_gradiend import GradiendTrainer, GradiendTrainingArguments
from hf_gradiend.data import TextFilterConfig, TextPredictionDataCreator
from hf_gradiend.offline_assets import smollm2_path
from hf_gradiend.training.memory import training_bytes

LIMIT_GIB = 24.0


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    options = parser.parse_args()
    transformers.logging.set_verbosity_error()
    logging.getLogger("hf_gradiend").setLevel(logging.WARNING)
    creator = TextPredictionDataCreator(
        base_data="wordnet", min_left_context_words=2, seed=0,
        feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")],
    )
    data = creator.generate_training_data(max_size_per_class=100)
    with tempfile.TemporaryDirectory() as tmp:
        args = GradiendTrainingArguments(
            output_dir=f"{tmp}/out", max_steps=options.steps, learning_rate=1e-4, gradient_batch_size=8,
            gradient_cache=False, use_cpu=True, save_strategy="no", report_to=[], disable_tqdm=True,
        )
        trainer = GradiendTrainer(str(smollm2_path()), args=args, train_dataset=data["train"])
        loaded = peak_rss_gib()
        n = trainer.get_model().config.input_dim
        estimate = training_bytes(n, 1, trainer.engine.model, trainer.engine.selection.num_coordinates)
        start = time.perf_counter()
        trainer.train()
        seconds = (time.perf_counter() - start) / options.steps
    peak = peak_rss_gib()
    rows = [
        ("selected coordinates n", f"{n:,}"),
        ("GRADIEND parameters 3n+1", f"{3 * n + 1:,}"),
        *((f"estimate: {k}", f"{v / 2**30:.2f} GiB") for k, v in estimate.items()),
        ("estimate: total", f"{sum(estimate.values()) / 2**30:.2f} GiB"),
        ("peak RSS after loading", f"{loaded:.2f} GiB"),
        ("peak RSS after training", f"{peak:.2f} GiB"),
        (f"within {LIMIT_GIB:g} GiB", "yes" if peak <= LIMIT_GIB else "NO"),
        ("mean wall time per step", f"{seconds:.1f} s"),
    ]
    print(f"SmolLM2-135M, unpruned direction over all selected weights, {options.steps} steps of 8 texts")
    print(f"| {'measure':<40} | {'value':>16} |")
    print(f"|{'-' * 42}|{'-' * 18}|")
    for name, value in rows:
        print(f"| {name:<40} | {value:>16} |")


if __name__ == "__main__":
    main()
