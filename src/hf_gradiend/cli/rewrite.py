"""`hf-gradiend rewrite`: apply a direction to its base model and save the merged, rewritten model."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .arguments import BaseModelArguments, DeviceArguments, DirectionArguments
from .evaluate import DECODER_FILE
from .loading import direction_trainer, local_folder, read_json

HELP = "Rewrite the base model with a direction (θ + α·dec(h)), merge and save it."
DESCRIPTION = (
    "Rewrite the direction's base model as θ + α·dec(h) through the GRADIEND peft adapter and save the merged "
    "model (loads with AutoModelFor*.from_pretrained, no hf_gradiend needed), its tokenizer, a model card and the "
    "adapter. α and h come from the decoder results of `hf-gradiend evaluate` (its decoder_results.json in the "
    "direction's folder is used when present), or from --alpha and --feature_value."
)
EXAMPLE = """\
  hf-gradiend rewrite --direction runs/3sg-3pl --target_class 3PL --output_dir models/smollm2-more-3pl
  hf-gradiend rewrite --direction runs/3sg-3pl --alpha 0.05 --feature_value -1 --output_dir models/manual"""


@dataclass(kw_only=True)
class RewriteArguments(DeviceArguments, BaseModelArguments, DirectionArguments):
    """The flags of `hf-gradiend rewrite`: the direction and base model, the output folder and the chosen (α, h)."""

    output_dir: str = field(metadata={"help": "Folder for the rewritten model (written whole or not at all)."})
    decoder_results: str | None = field(
        default=None, metadata={"help": f"decoder_results.json of `hf-gradiend evaluate` (default: {DECODER_FILE} "
                                        "in the direction's folder, unless --alpha and --feature_value are given)."}
    )
    target_class: str | None = field(default=None, metadata={"help": "The class to strengthen (or weaken)."})
    weaken: bool = field(default=False, metadata={"help": "Weaken target_class instead of strengthening it."})
    alpha: float | None = field(default=None, metadata={"help": "Step size α (overrides the decoder results)."})
    feature_value: float | None = field(default=None, metadata={"help": "Feature value h (overrides them)."})
    overwrite: bool = field(default=False, metadata={"help": "Replace an output_dir holding another model."})
    save_adapter: bool = field(default=True, metadata={"help": "Also save the adapter in output_dir/adapter."})


def argument_types() -> tuple[type, ...]:
    return (RewriteArguments,)


def decoder_results(args: RewriteArguments):
    """The decoder results to choose from: the given file, else the direction folder's, unless α and h are given."""
    if args.decoder_results is not None:
        results = read_json(args.decoder_results)
        if results is None:
            raise FileNotFoundError(f"No decoder results at {args.decoder_results!r}; run `hf-gradiend evaluate`.")
        return results
    folder = local_folder(args.direction)
    if folder is None or (args.alpha is not None and args.feature_value is not None):
        return None
    return read_json(folder / DECODER_FILE)


def run(args: RewriteArguments) -> None:
    from ..rewrite.output import PROVENANCE_FILE

    results = decoder_results(args)
    with tempfile.TemporaryDirectory(prefix="hf-gradiend-rewrite-") as scratch:
        trainer = direction_trainer(
            args.direction, scratch, model=args.model, tokenizer=args.tokenizer, use_cpu=args.use_cpu
        )
        trainer.rewrite_base_model(
            results, target_class=args.target_class, increase=not args.weaken, output_dir=args.output_dir,
            alpha=args.alpha, feature_value=args.feature_value, overwrite=args.overwrite,
            save_adapter=args.save_adapter,
        )
    provenance = json.loads((Path(args.output_dir) / PROVENANCE_FILE).read_text())
    what = ""
    if provenance.get("target_class"):
        what = f" ({'strengthen' if provenance.get('increase', True) else 'weaken'} {provenance['target_class']})"
    print(f"Saved the rewritten model{what}, alpha={provenance['alpha']:g}, h={provenance['feature_value']:g}, "
          f"to {args.output_dir}")
