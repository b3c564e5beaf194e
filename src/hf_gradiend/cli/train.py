"""`hf-gradiend train`: learn a direction on a base model and save it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arguments import BaseModelArguments, RowsArguments
from .loading import load_texts
from .parsing import json_option

HELP = "Train a direction (TextPredictionTrainer) and save it to --output_dir."
DESCRIPTION = (
    "Train a GRADIEND direction of two classes on a base model with TextPredictionTrainer and save it to "
    "--output_dir (config.json, model.safetensors, README.md model card, train/eval metrics). Every "
    "GradiendTrainingArguments / transformers TrainingArguments field is a flag."
)
EXAMPLE = """\
  hf-gradiend train --model HuggingFaceTB/SmolLM2-135M --data data/3sg-3pl/training \\
      --eval_neutral_data data/3sg-3pl/neutral --output_dir runs/3sg-3pl \\
      --max_steps 200 --learning_rate 1e-4 --eval_strategy steps --eval_steps 50"""


@dataclass(kw_only=True)
class TrainDataArguments(RowsArguments, BaseModelArguments):
    """The flags of `hf-gradiend train` besides the training arguments: the base model (required) and the rows."""

    model: str = field(metadata={"help": "The base model: a Hub id or a local folder."})
    target_classes: list[str] | None = field(
        default=None, metadata={"help": "The two classes, +1 first (inferred when the data has exactly two)."}
    )


def argument_types() -> tuple[type, ...]:
    from .training_arguments import CliTrainingArguments

    return (TrainDataArguments, CliTrainingArguments)


def run(data_args: TrainDataArguments, training_args) -> None:
    from ..training import TextPredictionTrainer

    trainer = TextPredictionTrainer(
        data_args.model, data=data_args.data, eval_neutral_data=load_texts(data_args.eval_neutral_data),
        target_classes=data_args.target_classes,
        class_merge_map=json_option("class_merge_map", data_args.class_merge_map), args=training_args,
        tokenizer=data_args.tokenizer,
    )
    output = trainer.train()
    trainer.save_metrics("train", output.metrics)
    selected = next((r for r in trainer.seed_results if r.selected), None)
    summary = ""
    if selected is not None and selected.metrics:
        trainer.save_metrics("eval", {
            **{f"eval_{k}": v for k, v in selected.metrics.items()}, "eval_converged": selected.converged,
            "eval_seed": selected.seed,
        })
        state = "converged" if selected.converged else "did not converge"
        summary = f" (validation r={selected.metrics['correlation']:.3f}, {state})"
    first, second = trainer.feature_classes
    print(f"Saved the direction {first} (+1) vs {second} (-1) to {training_args.output_dir}{summary}")
