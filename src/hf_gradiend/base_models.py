"""Loading the base language model a direction is learned on."""

from __future__ import annotations

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .gradients.objectives import infer_objective_name


def load_base_model(
    model: str | PreTrainedModel,
    tokenizer: str | PreTrainedTokenizerBase | None = None,
    objective: str | None = None,
    **from_pretrained_kwargs,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """
    Resolve a base model given as a Hub id, a local path or an instance, with its tokenizer and objective.

    Args:
        model (`str` or `PreTrainedModel`): The masked or causal LM.
        tokenizer (`str` or `PreTrainedTokenizerBase`, *optional*): Its tokenizer; loaded from `model` when omitted.
        objective (`str`, *optional*): `"masked_lm"` or `"causal_lm"`; inferred from the model when omitted.
        from_pretrained_kwargs: Passed to `from_pretrained` (e.g. `revision`, `dtype`).

    Returns:
        `(model, tokenizer, objective)`.
    """
    if isinstance(model, str):
        config = AutoConfig.from_pretrained(model, **from_pretrained_kwargs)
        objective = objective or infer_objective_name(config)
        auto = AutoModelForMaskedLM if objective == "masked_lm" else AutoModelForCausalLM
        if tokenizer is None:
            tokenizer = model
        model = auto.from_pretrained(model, **from_pretrained_kwargs)
    elif not isinstance(model, PreTrainedModel):
        raise TypeError(f"The base model must be a Hub id, a path or a PreTrainedModel, not {type(model).__name__}.")
    if tokenizer is None:
        name = getattr(model.config, "_name_or_path", "")
        if not name:
            raise ValueError("The base model was given as an instance without a path; pass its tokenizer too.")
        tokenizer = name
    if isinstance(tokenizer, str):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    return model, tokenizer, objective or infer_objective_name(model)
