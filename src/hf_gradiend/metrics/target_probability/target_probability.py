"""Probability of each feature class's words at a text's placeholder, as an `evaluate` measurement."""

from __future__ import annotations

import datasets
import evaluate

from hf_gradiend.evaluation.probabilities import target_probabilities

_DESCRIPTION = """
The target-class probability of hf_gradiend's decoder evaluation: for each masked text (with a placeholder such as
"[MASK]") and each class, the summed probability of the class's words (and their case variants) in the placeholder's
place. A multi-piece word's probability is the product over its pieces (masked LM: one mask per piece; causal LM:
the chain rule). Results are averaged per class of text.
"""

_KWARGS_DESCRIPTION = """
Args:
    masked (`list[str]`): Texts with the placeholder where a class word goes.
    factual_class (`list[str]`): The class of each text (averages are per class of text).
    model (`PreTrainedModel` or `str`): The model, or a local path / Hub id to load it from.
    class_words (`dict[str, list[str]]`): Each class's words, e.g. {"3SG": ["he", "she"], "3PL": ["they"]}.
    tokenizer (`PreTrainedTokenizerBase` or `str`, *optional*): Its fast tokenizer (loaded from `model` if omitted).
    objective (`str`, *optional*): "masked_lm" or "causal_lm"; inferred from the model by default.
    placeholder (`str`, *optional*, defaults to "[MASK]"): The placeholder in `masked`.
    case_variants (`bool`, *optional*, defaults to True): Sum the words' case variants.
    batch_size (`int`, *optional*, defaults to 16): Inputs per forward pass.
Returns:
    probabilities (`dict`): {text class: {word class: mean probability}}; counts (`dict`): texts per text class.
Example:
    >>> probability = evaluate.load(hf_gradiend.metrics.path("target_probability"))
    >>> probability.compute(masked=["Then [MASK] left."], factual_class=["3SG"], model=model, tokenizer=tokenizer,
    ...                     class_words={"3SG": ["he"], "3PL": ["they"]})
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TargetProbability(evaluate.Measurement):
    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement",
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"masked": datasets.Value("string"),
                                        "factual_class": datasets.Value("string")}),
        )

    def _compute(
        self, masked, factual_class, model, class_words, tokenizer=None, objective=None, placeholder="[MASK]",
        case_variants=True, batch_size=16,
    ):
        from hf_gradiend.base_models import load_base_model
        from hf_gradiend.gradients.objectives import build_objective

        model, tokenizer, objective = load_base_model(model, tokenizer, objective)
        return target_probabilities(
            model, build_objective(objective, tokenizer, placeholder), list(masked), class_words,
            row_classes=list(factual_class), case_variants=case_variants, batch_size=batch_size,
        )
