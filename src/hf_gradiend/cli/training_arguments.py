"""GradiendTrainingArguments with field types the command-line parser understands."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..training import GradiendTrainingArguments
from .parsing import json_option


@dataclass
class CliTrainingArguments(GradiendTrainingArguments):
    """
    [`GradiendTrainingArguments`] as flags: `--pre_prune` / `--post_prune` take their config fields as JSON objects
    (`--pre_prune '{"topk": 0.01}'`), and `--report_to` one integration name (or `none`).
    """

    report_to: str | None = field(default="none", metadata={"help": "Logger to report to (e.g. tensorboard, none)."})
    pre_prune: str | None = field(
        default=None, metadata={"help": 'PrePruneConfig fields as JSON, e.g. \'{"topk": 0.01, "n_samples": 16}\'.'}
    )
    post_prune: str | None = field(
        default=None, metadata={"help": 'PostPruneConfig fields as JSON, e.g. \'{"topk": 0.1}\'.'}
    )

    def __post_init__(self):
        self.pre_prune = json_option("pre_prune", self.pre_prune)
        self.post_prune = json_option("post_prune", self.post_prune)
        super().__post_init__()
