"""Language-modelling score (LMS) as an `evaluate` measurement, computed by `hf_gradiend.evaluation.lms`."""

from __future__ import annotations

import datasets
import evaluate

from hf_gradiend.evaluation.lms import DEFAULT_MASK_RATIO, language_modeling_score

_DESCRIPTION = """
The language-modelling score (LMS) of hf_gradiend's decoder evaluation: how well a masked or causal LM still
predicts ordinary text, on a 0–1 scale. Masked LM: top-1 accuracy at max(1, round(0.15·m)) of each text's m eligible
tokens, masked at once (positions from random.Random(seed)). Causal LM: next-token top-1 accuracy at every eligible
position after the first. Eligible tokens are real, non-special tokens that do not overlap an excluded (target) word.
"""

_KWARGS_DESCRIPTION = """
Args:
    texts (`list[str]`): Plain texts (ideally free of the excluded words).
    model (`PreTrainedModel` or `str`): The model, or a local path / Hub id to load it from.
    tokenizer (`PreTrainedTokenizerBase` or `str`, *optional*): Its fast tokenizer (loaded from `model` if omitted).
    objective (`str`, *optional*): "masked_lm" or "causal_lm"; inferred from the model by default.
    excluded_words (`list[str]`, *optional*): Target words whose tokens are not scored.
    mask_ratio (`float`, *optional*, defaults to 0.15): Masked share (masked LM).
    seed (`int`, *optional*, defaults to 0): Seed of the masked positions.
    batch_size (`int`, *optional*, defaults to 16): Texts per forward pass.
    max_length (`int`, *optional*): Truncation length in tokens.
Returns:
    lms (`float`), correct (`int`), total (`int`, scored tokens), nll (`float`, mean negative log-likelihood),
    texts (`int`).
Example:
    >>> lms = evaluate.load(hf_gradiend.metrics.path("lms"))
    >>> lms.compute(texts=["The cat sat on the mat."], model=model, tokenizer=tokenizer)["lms"]
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LMS(evaluate.Measurement):
    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement",
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"texts": datasets.Value("string")}),
        )

    def _compute(
        self, texts, model, tokenizer=None, objective=None, excluded_words=(), mask_ratio=DEFAULT_MASK_RATIO, seed=0,
        batch_size=16, max_length=None,
    ):
        from hf_gradiend.base_models import load_base_model

        model, tokenizer, objective = load_base_model(model, tokenizer, objective)
        return language_modeling_score(
            model, tokenizer, list(texts), objective=objective, excluded_words=list(excluded_words),
            mask_ratio=mask_ratio, seed=seed, batch_size=batch_size, max_length=max_length,
        )
