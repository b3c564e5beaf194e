"""Training-step overhead on SmolLM2-135M: a computing step and a cached step against the floor, measured in one run.

The floor of a step that computes gradients is one forward and two backward passes of the base model over the group's
texts (factual and alternative losses share the forward). The script prints, for a 1 %-pre-pruned direction:

- floor: plain autograd, one forward + two `torch.autograd.grad` calls over the selected weights;
- computing step: `GradiendTrainer.training_step` on a group never seen (cache miss: engine + cache write + update);
- cached step: the same groups again (cache hit: read + update);
- per-text entries: the 8 texts of a group as 8 cached per-text gradients (one batched pass) vs one group gradient;
- group gradient over all selected weights (autograd, then indexed) vs over the kept coordinates only (formed from
  the layers' inputs and output gradients, no full weight gradient).

Usage: `python benchmarks/bench_training.py [--groups 6] [--group-size 8]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import transformers

from hf_gradiend import GradiendTrainer, GradiendTrainingArguments, PrePruneConfig
from hf_gradiend.data import TextFilterConfig, TextPredictionDataCreator
from hf_gradiend.offline_assets import smollm2_path
from hf_gradiend.training.groups import collate_groups


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--group-size", type=int, default=8)
    options = parser.parse_args()
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)

    creator = TextPredictionDataCreator(
        base_data="wordnet", min_left_context_words=2,
        feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")],
    )
    data = creator.generate_training_data(max_size_per_class=200, seed=0)
    path = smollm2_path()
    with tempfile.TemporaryDirectory() as tmp:
        args = GradiendTrainingArguments(
            output_dir=f"{tmp}/out", gradient_batch_size=options.group_size, learning_rate=1e-4, use_cpu=True,
            pre_prune=PrePruneConfig(n_samples=16, topk=0.01), gradient_cache_dir=f"{tmp}/cache", max_steps=1,
            disable_tqdm=True,
        )
        trainer = GradiendTrainer(str(path), args=args, train_dataset=data["train"])
        trainer.create_optimizer_and_scheduler(num_training_steps=100)
        trainer.current_gradient_accumulation_steps = 1
        model = trainer.model
        model.train()
        engine = trainer.engine
        groups = [trainer.train_dataset[i] for i in range(options.groups)]

        def floor(group) -> None:
            factual = engine.encode(group["masked"], group["factual"])
            alternative = engine.encode(group["masked"], group["alternative"])
            with torch.enable_grad():
                losses, _ = engine._losses(factual, alternative)
                torch.autograd.grad(losses["factual"].mean(), engine.parameters, retain_graph=True)
                torch.autograd.grad(losses["alternative"].mean(), engine.parameters)

        def step(group) -> None:
            trainer.training_step(model, collate_groups([group]))
            trainer.optimizer.step()
            trainer.optimizer.zero_grad()

        floor(groups[0])  # warm-up
        kept = trainer.training_coordinates
        floors, computing, cached, per_text, group_grad, kept_grad = [], [], [], [], [], []
        for group in groups:  # interleaved, so machine noise hits all alike
            floors.append(timed(lambda g=group: floor(g)))
            computing.append(timed(lambda g=group: step(g)))
            cached.append(timed(lambda g=group: step(g)))
            per_text.append(timed(lambda g=group: trainer.gradient_store.per_text(
                g["masked"], g["factual"], g["alternative"])))
            group_grad.append(timed(lambda g=group: engine.gradients(
                g["masked"], g["factual"], g["alternative"], kinds=("factual", "alternative"))))
            kept_grad.append(timed(lambda g=group: engine.gradients(
                g["masked"], g["factual"], g["alternative"], kinds=("factual", "alternative"), coordinates=kept)))

    base = statistics.median(floors)
    rows = [
        ("floor: 1 forward + 2 backward", base),
        ("computing step (cache miss)", statistics.median(computing)),
        ("cached step (cache hit)", statistics.median(cached)),
        ("group gradient, all weights", statistics.median(group_grad)),
        ("group gradient, kept coordinates", statistics.median(kept_grad)),
        ("per-text gradients of the group", statistics.median(per_text)),
    ]
    print(f"SmolLM2-135M, {options.group_size} texts per group, {options.groups} groups, 1 % pre-pruned "
          f"({trainer.get_model().config.input_dim:,} of {engine.selection.num_coordinates:,} coordinates)")
    print(f"| {'measure':<34} | {'median s':>9} | {'× floor':>8} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 10}|")
    for name, seconds in rows:
        print(f"| {name:<34} | {seconds:>9.3f} | {seconds / base:>8.3f} |")


if __name__ == "__main__":
    main()
