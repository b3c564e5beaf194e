"""
The hf_gradiend half of `benchmarks/compare_reference.py`: runs hf_gradiend through the quickstart workflow (data →
training with pruning → encoder evaluation → decoder grid → rewrite) on the shared rows, and writes one JSON with
the wall time, CPU time, peak RSS and quality numbers of every phase, in the layout of the reference half.

It runs as a child process of `compare_reference.py --only ours` (with the same Python), so its memory is measured
on its own. The gradient cache starts empty on every run, so training includes computing the gradients.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_run import PHASES, Recorder, same_rows_quality  # noqa: E402

FEATURE_CLASSES = ("3SG", "3PL")
TARGET_WORDS = {"3SG": ["he", "she", "it"], "3PL": ["they"]}


def trainer_class():
    """
    `TextPredictionTrainer` that also times its in-training evaluations (`eval_seconds`), so the benchmark can tell
    gradient steps from evaluation. While `EvaluationMixin` is not yet among `GradiendTrainer`'s bases, it is mixed
    in here (temporary: drop it once the trainer has `evaluate_decoder`).
    """
    from hf_gradiend.training import TextPredictionTrainer

    bases = (TextPredictionTrainer,)
    if not hasattr(TextPredictionTrainer, "evaluate_decoder"):
        from hf_gradiend.training.evaluation_workflow import EvaluationMixin

        bases = (EvaluationMixin, TextPredictionTrainer)

    class _Trainer(*bases):
        eval_seconds = 0.0

        def evaluate(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return super().evaluate(*args, **kwargs)
            finally:
                self.eval_seconds += time.perf_counter() - start

    _Trainer.evaluation_mixed_in = len(bases) > 1
    return _Trainer


def first_per_class(rows, n: int):
    """The first `n` rows of each factual class (rows keep their order)."""
    seen: dict[str, int] = {}
    keep = []
    for i, c in enumerate(rows["factual_class"]):
        if seen.get(c, 0) < n:
            seen[c] = seen.get(c, 0) + 1
            keep.append(i)
    return rows.select(keep)


def _number(value):
    return float(value) if isinstance(value, (int, float)) else value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="local directory of the base model (never a Hub id)")
    parser.add_argument("--rows", required=True, help="shared rows CSV (text, masked, factual, alternative, ...)")
    parser.add_argument("--neutral", required=True, help="shared neutral CSV (column text)")
    parser.add_argument("--sentences", required=True, help="the raw sentences, one a line (data phase)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--workdir", required=True, help="directory for the direction, cache and rewritten model")
    parser.add_argument("--settings", required=True, help="JSON with the benchmark settings")
    args = parser.parse_args(argv)
    settings = json.loads(args.settings)
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        raise SystemExit("Set HF_HUB_OFFLINE=1: the benchmark must not touch the Hub.")

    import pandas as pd
    import torch
    import transformers
    from datasets import Dataset, DatasetDict

    import hf_gradiend
    from hf_gradiend import (
        GradiendTrainingArguments,
        PostPruneConfig,
        PrePruneConfig,
        TextFilterConfig,
        TextPredictionDataCreator,
    )

    transformers.logging.set_verbosity_error()
    trainer_cls = trainer_class()
    header = {
        "library": "hf_gradiend",
        "version": getattr(hf_gradiend, "__version__", "dev"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "settings": settings,
        "evaluation_mixin_added_by_benchmark": trainer_cls.evaluation_mixed_in,
        "optimizer": {"name": "adamw", "weight_decay": 0.01, "lr_scheduler_type": "constant"},
    }
    recorder = Recorder(Path(args.out), header)
    workdir = Path(args.workdir)
    cache_dir = workdir / "gradient_cache"
    shutil.rmtree(workdir, ignore_errors=True)  # an empty gradient cache: training computes every gradient
    workdir.mkdir(parents=True)

    with recorder.phase("data") as metrics:
        # Our own data creation from the raw sentences, timed for the data phase; training below uses the shared
        # rows so that both libraries see the same rows and splits.
        sentences = [line for line in Path(args.sentences).read_text().splitlines() if line.strip()]
        creator = TextPredictionDataCreator(
            base_data=sentences,
            feature_targets=[TextFilterConfig(TARGET_WORDS[c], id=c) for c in FEATURE_CLASSES],
            min_left_context_words=settings["min_left_context_words"],
            seed=settings["seed"],
        )
        created = creator.generate_training_data(max_size_per_class=settings["max_rows_per_class"])
        neutral_created = creator.generate_neutral_data(max_size=settings["neutral_rows"])
        metrics["created_rows"] = sum(len(split) for split in created.values())
        per_class: dict[str, int] = {}
        for split in created.values():
            for c in split["factual_class"]:
                per_class[c] = per_class.get(c, 0) + 1
        metrics["created_rows_per_class"] = per_class
        metrics["created_neutral_rows"] = len(neutral_created)
        shared = pd.read_csv(args.rows)
        data = DatasetDict({
            split: Dataset.from_pandas(shared[shared["split"] == split].reset_index(drop=True), preserve_index=False)
            for split in ("train", "validation", "test")
        })
        neutral = list(pd.read_csv(args.neutral)["text"])
        metrics["shared_rows"] = int(len(shared))
        metrics["shared_neutral_rows"] = len(neutral)

    with recorder.phase("training") as metrics:
        steps = settings["steps"]
        training_args = GradiendTrainingArguments(
            output_dir=str(workdir / "direction"),
            max_steps=steps,
            learning_rate=settings["learning_rate"],
            # the reference's optimizer: AdamW with weight decay 0.01 at a constant learning rate (transformers'
            # defaults would decay the rate linearly to zero, without weight decay)
            lr_scheduler_type="constant",
            weight_decay=0.01,
            gradient_batch_size=settings["batch_size"],
            # the reference ranks every weight, the tied input/output embedding included; ours leaves the prediction
            # head out by default
            include_head=settings.get("include_head", False),
            pre_prune=PrePruneConfig(n_samples=settings["pre_prune_samples"], topk=settings["pre_prune_topk"]),
            post_prune=PostPruneConfig(topk=settings["post_prune_topk"]),
            seed=settings["seed"],
            # as the reference: evaluate at the start and after the last step, on a few validation rows per class
            eval_strategy="steps",
            eval_steps=steps,
            eval_on_start=True,
            logging_steps=max(1, steps // 10),
            gradient_cache_dir=str(cache_dir),
            use_cpu=True,
        )
        eval_rows = first_per_class(data["validation"], settings["train_eval_rows_per_class"])
        phase_start = time.perf_counter()
        trainer = trainer_cls(
            args.model,
            data=data,
            eval_neutral_data=neutral,
            target_classes=list(FEATURE_CLASSES),
            args=training_args,
            eval_dataset=eval_rows,
        )
        setup_s = time.perf_counter() - phase_start  # loading the base model and pre-pruning
        output = trainer.train()
        direction = trainer.get_model()
        train_s = output.metrics["train_runtime"]  # the training loop: gradient steps and in-training evaluations
        metrics["time_stats"] = {
            "setup_s": round(setup_s, 2),
            "steps_s": round(train_s - trainer.eval_seconds, 2),
            "eval_s": round(trainer.eval_seconds, 2),
            "finish_s": round(time.perf_counter() - phase_start - setup_s - train_s, 2),
        }
        metrics["training_coordinates"] = (
            int(trainer.training_coordinates.numel()) if trainer.training_coordinates is not None else None
        )
        metrics["input_dim_after_pruning"] = int(direction.config.input_dim)
        metrics["selected_coordinates"] = int(trainer.engine.selection.num_coordinates)
        metrics["eval_rows"] = len(eval_rows)
        history = trainer.state.log_history
        evaluations = [e for e in history if "eval_correlation" in e]
        losses = [e["loss"] for e in history if "loss" in e]
        metrics["global_step"] = int(trainer.state.global_step)
        metrics["validation_correlations"] = [_number(e["eval_correlation"]) for e in evaluations]
        metrics["best_validation_correlation"] = trainer.seed_results[-1].metrics.get("correlation")
        metrics["first_loss"], metrics["last_loss"] = (losses[0], losses[-1]) if losses else (None, None)
        metrics["gradient_cache_mib"] = round(
            sum(p.stat().st_size for p in cache_dir.rglob("*") if p.is_file()) / 2**20, 1
        )

    with recorder.phase("encoder") as metrics:
        encoder = trainer.evaluate_encoder(
            split="test",
            max_size=settings["encoder_rows_per_class"],
            neutral_data=neutral[: settings["encoder_neutral_rows"]],
        )
        for key in (
            "correlation", "accuracy", "n_samples", "n_by_group", "n_by_feature_class", "mean_by_feature_class",
            "mean_by_group", "abs_mean_by_group", "neutral_dataset_mean", "neutral_training_masked_mean",
        ):  # fmt: skip
            metrics[key] = encoder.get(key)

    with recorder.phase("decoder") as metrics:
        decoder = trainer.evaluate_decoder(
            target_class=settings["decoder_target_class"], max_size=settings["decoder_rows"]
        )
        chosen = decoder.get(settings["decoder_target_class"], {})
        metrics["chosen"] = chosen
        grid = decoder.get("grid") or []
        metrics["grid_points"] = sum(1 for p in grid if p.get("status") == "evaluated")
        metrics["grid_points_skipped"] = sum(1 for p in grid if p.get("status") == "skipped")
        metrics["grid"] = [{k: v for k, v in p.items() if k != "lms_details"} for p in grid]
        metrics["base"] = decoder.get("base")
        metrics["settings"] = decoder.get("settings")

    with recorder.phase("rewrite") as metrics:
        rewritten_dir = workdir / f"rewritten-{settings['decoder_target_class']}"
        path = trainer.rewrite_base_model(
            decoder, target_class=settings["decoder_target_class"], output_dir=rewritten_dir, overwrite=True
        )
        metrics["output_dir"] = str(path)
        metrics["learning_rate"] = chosen.get("learning_rate")
        metrics["feature_value"] = chosen.get("feature_value")

    # Untimed, after the phases: the trained direction's r on every validation row, measured as the reference's.
    rows = data["validation"]
    encodings = trainer.encode_rows(rows).tolist()
    recorder.result["validation_same_rows"] = same_rows_quality(
        encodings, list(rows["factual_class"]), FEATURE_CLASSES[0]
    )
    recorder.result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    recorder.result["phases_done"] = [p for p in PHASES if p in recorder.result["phases"]]
    recorder.write()
    print(f"[ours] done: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
