"""`hf-gradiend evaluate`: the encoder analysis and the decoder (α, h) grid of a saved direction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .arguments import BaseModelArguments, DeviceArguments, DirectionArguments, RowsArguments
from .loading import direction_trainer, local_folder, write_json
from .parsing import json_option

if TYPE_CHECKING:
    from ..evaluation import DecoderGridConfig

HELP = "Evaluate a saved direction: encoder separation and the decoder's chosen rewrite."
DESCRIPTION = (
    "Encode a split's rows and neutral texts with a saved direction (correlation, accuracy, class means), and "
    "search the decoder grid of learning rates α and feature values h for the rewrite of each class under the "
    "language-modelling constraint. Writes encoder_results.json and decoder_results.json to --output_dir (the "
    "direction's folder by default); `hf-gradiend rewrite` reads decoder_results.json from there."
)
EXAMPLE = """\
  hf-gradiend evaluate --direction runs/3sg-3pl --data data/3sg-3pl/training \\
      --eval_neutral_data data/3sg-3pl/neutral --split test --plot"""

ENCODER_FILE = "encoder_results.json"
DECODER_FILE = "decoder_results.json"
_INCREASE = {"strengthen": True, "weaken": False, "both": None}


@dataclass(kw_only=True)
class EvaluateArguments(DeviceArguments, RowsArguments, BaseModelArguments, DirectionArguments):
    """
    The flags of `hf-gradiend evaluate` besides the decoder grid's ([`DecoderGridConfig`], whose `max_size`,
    `batch_size` and `seed` serve the encoder analysis too).
    """

    output_dir: str | None = field(default=None, metadata={"help": "Where results go; the direction's folder."})
    split: str = field(default="test", metadata={"help": "train, validation or test."})
    encoder: bool = field(default=True, metadata={"help": "Evaluate the encoder."})
    decoder: bool = field(default=True, metadata={"help": "Evaluate the decoder grid."})
    target_class: str | None = field(default=None, metadata={"help": "Decoder: one class (both by default)."})
    decoder_mode: Literal["strengthen", "weaken", "both"] = field(
        default="strengthen", metadata={"help": "Decoder: strengthen or weaken the class, or both."}
    )
    plot: bool = field(default=False, metadata={"help": "Also draw encoder_<split>.png and decoder_<split>.png."})


def argument_types() -> tuple[type, ...]:
    from ..evaluation import DecoderGridConfig

    return (EvaluateArguments, DecoderGridConfig)


def output_folder(direction: str, output_dir: str | None) -> Path:
    """`output_dir`, else the direction's own folder (an error for a Hub id)."""
    if output_dir is not None:
        return Path(output_dir)
    folder = local_folder(direction)
    if folder is None:
        raise ValueError(f"{direction!r} is not a local folder; pass --output_dir for the results.")
    return folder


def run(args: EvaluateArguments, grid: DecoderGridConfig) -> None:
    if not (args.encoder or args.decoder):
        raise ValueError("Nothing to evaluate: --no_encoder and --no_decoder were both given.")
    output_dir = output_folder(args.direction, args.output_dir)
    batch = {"per_device_eval_batch_size": grid.batch_size} if grid.batch_size else {}
    trainer = direction_trainer(
        args.direction, output_dir, model=args.model, tokenizer=args.tokenizer, data=args.data,
        class_merge_map=json_option("class_merge_map", args.class_merge_map),
        eval_neutral_data=args.eval_neutral_data, use_cpu=args.use_cpu, seed=grid.seed, **batch,
    )
    if not hasattr(trainer, "evaluate_encoder"):
        raise RuntimeError("This hf_gradiend's trainer has no evaluate_encoder/evaluate_decoder; update hf-gradiend.")
    if args.encoder:
        report = trainer.evaluate_encoder(
            split=args.split, plot=args.plot, max_size=grid.max_size, batch_size=grid.batch_size, seed=grid.seed
        )
        path = write_json(output_dir / ENCODER_FILE, report)
        means = ", ".join(f"{c} {v:+.3f}" for c, v in report["mean_by_feature_class"].items())
        print(f"Encoder ({args.split} split): r={report['correlation']:.3f}, accuracy={report['accuracy']:.3f}, "
              f"mean h {means} -> {path}")
    if args.decoder:
        results = trainer.evaluate_decoder(
            target_class=args.target_class, increase=_INCREASE[args.decoder_mode], plot=args.plot, config=grid,
            split=args.split,
        )
        path = write_json(output_dir / DECODER_FILE, results)
        for entry in results.values():
            if isinstance(entry, dict) and "learning_rate" in entry and "target_class" in entry:
                verb = "strengthen" if entry.get("increase", True) else "weaken"
                print(f"Decoder: {verb} {entry['target_class']}: alpha={entry['learning_rate']:g}, "
                      f"h={entry['feature_value']:g}, LMS {entry['base_lms']:.3f} -> {entry['lms']:.3f}")
        print(f"Decoder results -> {path}")
