"""Training arguments of a GRADIEND run."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from ..configuration_gradiend import GRADIENT_KINDS


@dataclass
class GradiendTrainingArguments(TrainingArguments):
    r"""
    [`~transformers.TrainingArguments`] for [`GradiendTrainer`]. Everything the transformers Trainer offers
    (optimizer, scheduler, logging, checkpoints, `report_to`, multi-process) applies unchanged.

    Parameters grouped by what they control:

    > Gradients

    source (`str`, *optional*, defaults to `"alternative"`):
        Gradient the encoder reads: `"factual"`, `"alternative"` or `"diff"` (factual − alternative).
    target (`str`, *optional*, defaults to `"diff"`):
        Gradient the decoder reconstructs.
    params (`list[str]`, *optional*):
        Name globs of the base weights to cover, e.g. `["*.layers.1[01].*"]`. Default: every weight except the
        prediction head.
    include_head (`bool`, *optional*, defaults to `False`):
        Also cover the prediction head (and an output embedding tied to the input embedding).
    gradient_batch_size (`int`, *optional*, defaults to 8):
        Texts of one transition averaged into one gradient.
    objective (`str`, *optional*):
        `"masked_lm"` or `"causal_lm"`; inferred from the base model when omitted.
    mask_placeholder (`str`, *optional*, defaults to `"[MASK]"`):
        Marker of the target word in masked texts.

    > Changed defaults

    `per_device_train_batch_size` = 1 gradient group per step, `learning_rate` = 1e-4, `report_to` = `"none"`,
    `save_strategy` = `"no"`, `remove_unused_columns` = `False`.
    """

    source: str = field(default="alternative", metadata={"help": "Encoder input: factual, alternative or diff."})
    target: str = field(default="diff", metadata={"help": "Decoder target: factual, alternative or diff."})
    params: list[str] | None = field(default=None, metadata={"help": "Name globs of the base weights to cover."})
    include_head: bool = field(default=False, metadata={"help": "Also cover the prediction head."})
    gradient_batch_size: int = field(default=8, metadata={"help": "Texts averaged into one gradient."})
    objective: str | None = field(default=None, metadata={"help": "masked_lm or causal_lm (inferred if unset)."})
    mask_placeholder: str = field(default="[MASK]", metadata={"help": "Marker of the target word in masked texts."})

    per_device_train_batch_size: int = field(default=1, metadata={"help": "Gradient groups per step and device."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Texts per evaluation forward pass."})
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW learning rate of the GRADIEND weights."})
    report_to: str | list[str] | None = field(default="none", metadata={"help": "Loggers to report to."})
    save_strategy: str = field(default="no", metadata={"help": "Checkpoint strategy (see TrainingArguments)."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Kept False: rows are read whole."})

    def __post_init__(self):
        for name in ("source", "target"):
            if getattr(self, name) not in GRADIENT_KINDS:
                raise ValueError(f"{name}={getattr(self, name)!r} must be one of {', '.join(GRADIENT_KINDS)}.")
        if self.gradient_batch_size < 1:
            raise ValueError(f"gradient_batch_size={self.gradient_batch_size} must be at least 1.")
        if isinstance(self.params, str):
            self.params = [self.params]
        super().__post_init__()
