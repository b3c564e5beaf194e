"""Training arguments of a GRADIEND run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from transformers import TrainingArguments

from ..configuration_gradiend import GRADIENT_KINDS
from .pruning import PostPruneConfig, PrePruneConfig, as_config


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
    balance_transitions (`bool`, *optional*, defaults to `False`):
        Let the transitions (3SG→3PL, 3PL→3SG) take turns step by step, cycling the ones with fewer groups (see
        [`BalancedTransitionSampler`]), as the reference does; by default groups are drawn uniformly, so a smaller
        class gets fewer steps (on the SmolLM2 benchmark, balancing lowered validation r from 0.995 to 0.964).
    objective (`str`, *optional*):
        `"masked_lm"` or `"causal_lm"`; inferred from the base model when omitted.
    mask_placeholder (`str`, *optional*, defaults to `"[MASK]"`):
        Marker of the target word in masked texts.

    > Gradient cache

    gradient_cache (`bool`, *optional*, defaults to `True`):
        Compute each gradient group (and each evaluation text) once and read it back from disk afterwards: in later
        epochs, evaluations, seeds and pruning passes.
    gradient_cache_dir (`str`, *optional*):
        Where to keep it. Default: `$HF_GRADIEND_CACHE/gradients/<fingerprint>` (`~/.cache/hf_gradiend/...`). A
        directory written for another base model, selection, objective or coordinate set is refused.
    gradient_cache_dtype (`str`, *optional*, defaults to `"float32"`): `"float32"` or `"float16"` on disk.
    gradient_cache_max_gb (`float`, *optional*, defaults to 16): If the cache would exceed this, gradients are
        recomputed instead (said once in the log).

    > Pruning

    pre_prune ([`PrePruneConfig`] or `dict`, *optional*): Keep only the top coordinates by mean |gradient| before
        training; the full-size direction is never allocated.
    post_prune ([`PostPruneConfig`] or `dict`, *optional*): Shrink the trained direction to its top coordinates.

    > Seeds

    max_seeds (`int`, *optional*, defaults to 1): Seeds to try (`seed`, `seed + 1`, ...).
    min_convergent_seeds (`int`, *optional*, defaults to 1): Stop once this many seeds converged.
    convergence_correlation (`float`, *optional*, defaults to 0.5): A seed converges when its validation |r| reaches
        this and ...
    convergence_class_mean (`float`, *optional*, defaults to 0.5): ... both class means have opposite signs with
        |mean| at least this.

    > Changed defaults

    `per_device_train_batch_size` = 1 gradient group per step, `learning_rate` = 1e-4, `adam_epsilon` = 1e-16,
    `report_to` = `"none"`, `save_strategy` = `"no"`, `remove_unused_columns` = `False`,
    `ddp_find_unused_parameters` = `False`.

    Why `adam_epsilon` = 1e-16: the loss is a mean over the direction's coordinates (10⁵–10⁸ of them) of squared
    base-model gradients, so the GRADIEND weights' own gradients are tiny (first step on SmolLM2 at 1 %: |∂L/∂w_e|
    5e-11 to 1.4e-9, |∂L/∂w_d| 3e-13 to 1.6e-10 between the 10th and 90th percentiles). With AdamW's usual 1e-8 the
    epsilon outweighs `√v` and damps nearly every step; far below the smallest gradients, the update no longer
    depends on their scale. On the SmolLM2 benchmark (100 steps) validation r rose from 0.988 to 0.995 and test r
    from 0.9975 to 0.9987 (1e-10 to 1e-16 gave the same numbers). Train the direction in float32 or bfloat16: in
    float16 the epsilon rounds to zero.
    """

    source: str = field(default="alternative", metadata={"help": "Encoder input: factual, alternative or diff."})
    target: str = field(default="diff", metadata={"help": "Decoder target: factual, alternative or diff."})
    params: list[str] | None = field(default=None, metadata={"help": "Name globs of the base weights to cover."})
    include_head: bool = field(default=False, metadata={"help": "Also cover the prediction head."})
    gradient_batch_size: int = field(default=8, metadata={"help": "Texts averaged into one gradient."})
    balance_transitions: bool = field(
        default=False, metadata={"help": "Alternate transitions step by step, cycling the smaller ones."}
    )
    objective: str | None = field(default=None, metadata={"help": "masked_lm or causal_lm (inferred if unset)."})
    mask_placeholder: str = field(default="[MASK]", metadata={"help": "Marker of the target word in masked texts."})

    gradient_cache: bool = field(default=True, metadata={"help": "Cache gradients on disk and reuse them."})
    gradient_cache_dir: str | None = field(default=None, metadata={"help": "Directory of the gradient cache."})
    gradient_cache_dtype: str = field(default="float32", metadata={"help": "float32 or float16 on disk."})
    gradient_cache_max_gb: float = field(default=16.0, metadata={"help": "Recompute instead above this size."})
    pre_prune: Any = field(default=None, metadata={"help": "PrePruneConfig (or dict) for pre-pruning."})
    post_prune: Any = field(default=None, metadata={"help": "PostPruneConfig (or dict) for post-pruning."})
    max_seeds: int = field(default=1, metadata={"help": "Seeds to try."})
    min_convergent_seeds: int = field(default=1, metadata={"help": "Stop after this many convergent seeds."})
    convergence_correlation: float = field(default=0.5, metadata={"help": "Minimum validation |r| to converge."})
    convergence_class_mean: float = field(default=0.5, metadata={"help": "Minimum |class mean| to converge."})

    per_device_train_batch_size: int = field(default=1, metadata={"help": "Gradient groups per step and device."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Texts per evaluation forward pass."})
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW learning rate of the GRADIEND weights."})
    adam_epsilon: float = field(
        default=1e-16, metadata={"help": "AdamW epsilon; tiny, as GRADIEND's own gradients are ~1e-13 to 1e-8."}
    )
    report_to: str | list[str] | None = field(default="none", metadata={"help": "Loggers to report to."})
    save_strategy: str = field(default="no", metadata={"help": "Checkpoint strategy (see TrainingArguments)."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Kept False: rows are read whole."})
    ddp_find_unused_parameters: bool | None = field(
        default=False, metadata={"help": "A direction uses all its parameters in every step."}
    )

    def __post_init__(self):
        for name in ("source", "target"):
            if getattr(self, name) not in GRADIENT_KINDS:
                raise ValueError(f"{name}={getattr(self, name)!r} must be one of {', '.join(GRADIENT_KINDS)}.")
        if self.gradient_batch_size < 1:
            raise ValueError(f"gradient_batch_size={self.gradient_batch_size} must be at least 1.")
        if isinstance(self.params, str):
            self.params = [self.params]
        self.pre_prune = as_config(self.pre_prune, PrePruneConfig)
        self.post_prune = as_config(self.post_prune, PostPruneConfig)
        if self.max_seeds < 1 or not 1 <= self.min_convergent_seeds <= self.max_seeds:
            raise ValueError(
                f"max_seeds={self.max_seeds} and min_convergent_seeds={self.min_convergent_seeds} need "
                "1 <= min_convergent_seeds <= max_seeds."
            )
        if self.gradient_cache_dtype not in ("float32", "float16"):
            raise ValueError(f"gradient_cache_dtype={self.gradient_cache_dtype!r} must be 'float32' or 'float16'.")
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for name in ("pre_prune", "post_prune"):
            if out.get(name) is not None:
                out[name] = asdict(out[name])
        return out
