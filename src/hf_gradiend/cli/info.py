"""`hf-gradiend info`: what a saved direction is — base model, classes, parameters, metrics."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .arguments import DirectionArguments
from .evaluate import DECODER_FILE, ENCODER_FILE
from .loading import local_folder, read_json

HELP = "Print a saved direction's config: base model, classes, parameters, metrics."
DESCRIPTION = (
    "Print what a saved direction was learned on (base model, revision, architecture, objective), its feature "
    "classes, covered parameters and kept coordinates, and the metrics saved beside it (training/validation "
    "metrics of `hf-gradiend train`, a suite run's record, encoder/decoder results of `hf-gradiend evaluate`)."
)
EXAMPLE = """\
  hf-gradiend info --direction runs/3sg-3pl
  hf-gradiend info --direction me/smollm2-3sg-3pl-gradiend --json"""

METRIC_FILES = ("all_results.json", "suite_run.json", ENCODER_FILE, DECODER_FILE)


@dataclass(kw_only=True)
class InfoArguments(DirectionArguments):
    """The flags of `hf-gradiend info`: the direction, and whether to print JSON."""

    json: bool = field(default=False, metadata={"help": "Print JSON instead of text."})


def argument_types() -> tuple[type, ...]:
    return (InfoArguments,)


def direction_info(direction: str) -> dict[str, Any]:
    """The direction's config summary and the metrics found beside it."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(direction)
    except (OSError, ValueError) as error:
        raise ValueError(f"Could not read a direction's config from {direction!r}: {error}") from None
    if config.model_type != "gradiend":
        raise ValueError(f"{direction!r} holds a {config.model_type!r} model, not a GRADIEND direction.")
    shapes = config.param_shapes or []
    total = sum(math.prod(s) for s in shapes) or config.input_dim
    classes = config.feature_classes or [None, None]
    info = {
        "direction": direction,
        "base_model": config.base_model_name_or_path,
        "base_model_revision": config.base_model_revision,
        "base_model_architecture": config.base_model_architecture,
        "objective": config.objective,
        "positive_class": classes[0],
        "negative_class": classes[1],
        "source": config.source,
        "target": config.target,
        "parameters": len(config.param_names or []),
        "coordinates": total,
        "kept_coordinates": config.input_dim,
        "pruned": config.pruned,
        "param_fingerprint": config.param_fingerprint,
        "metrics": metrics_beside(direction),
    }
    return info


def metrics_beside(direction: str) -> dict[str, Any]:
    """Headline numbers from the result files in a local direction folder."""
    folder = local_folder(direction)
    if folder is None:
        return {}
    metrics: dict[str, Any] = {}
    results = read_json(folder / "all_results.json") or {}
    metrics.update({k: v for k, v in results.items() if isinstance(v, (int, float, bool))})
    record = read_json(folder / "suite_run.json") or {}
    metrics.update({f"suite_{k}": v for k, v in (record.get("metrics") or {}).items()})
    encoder = read_json(folder / ENCODER_FILE) or {}
    for key in ("correlation", "accuracy", "ternary_accuracy", "neutral_dataset_mean"):
        if encoder.get(key) is not None:
            metrics[f"encoder_{key}"] = encoder[key]
    for cls, mean in (encoder.get("mean_by_feature_class") or {}).items():
        metrics[f"encoder_mean_{cls}"] = mean
    decoder = read_json(folder / DECODER_FILE) or {}
    for key, entry in decoder.items():
        if isinstance(entry, dict) and "learning_rate" in entry and "target_class" in entry:
            for name in ("learning_rate", "feature_value", "lms", "base_lms", "target_probability"):
                metrics[f"decoder_{key}_{name}"] = entry.get(name)
    return metrics


def run(args: InfoArguments) -> None:
    info = direction_info(args.direction)
    if args.json:
        print(json.dumps(info, indent=2))
        return
    revision = f" (revision {info['base_model_revision']})" if info["base_model_revision"] else ""
    kept = (
        f"{info['kept_coordinates']:,} of {info['coordinates']:,} (pruned)" if info["pruned"]
        else f"all {info['coordinates']:,}"
    )
    lines = [
        f"Direction:   {info['direction']}",
        f"Base model:  {info['base_model']}{revision} ({info['base_model_architecture']})",
        f"Classes:     {info['positive_class']} (+1) vs {info['negative_class']} (-1)",
        f"Objective:   {info['objective']}; encoder reads {info['source']} gradients, decoder reconstructs "
        f"{info['target']}",
        f"Parameters:  {info['parameters']} tensors; coordinates kept: {kept}",
    ]
    if info["metrics"]:
        lines.append("Metrics:")
        lines += [f"  {name}: {_number(value)}" for name, value in info["metrics"].items()]
    else:
        lines.append("Metrics:     none saved beside the direction")
    print("\n".join(lines))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
