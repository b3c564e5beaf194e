"""Model cards rendered from the package's model_cards/ templates: direction, adapter and rewritten model."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard

from hf_gradiend.cards import TEMPLATES, adapter_card, direction_card, template_path, write_direction_card
from hf_gradiend.rewrite import adapter_config_from_direction


def test_every_template_is_found():
    for name in TEMPLATES:
        assert template_path(name).read_text().startswith("---\n{{ card_data }}\n---")
    with pytest.raises(ValueError, match="choose one of direction, rewritten_model, adapter"):
        template_path("dataset")


def test_direction_card_describes_the_direction(llama, make_direction, tmp_path):
    base, _ = llama
    base.config._name_or_path = "HuggingFaceTB/SmolLM2-135M"
    try:
        direction = make_direction(base, pruned=True, fraction=0.01)
    finally:
        base.config._name_or_path = ""
    metrics = {"eval_correlation": 0.91234}
    path = write_direction_card(direction.config, tmp_path, repo_id="me/direction", metrics=metrics)
    card = ModelCard.load(path)
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M" and "gradiend" in card.data.tags
    text = card.text
    kept, total = direction.config.input_dim, direction.selection.num_coordinates
    for expected in (
        "GRADIEND direction: 3SG vs. 3PL",
        "`3SG` (+1), `3PL` (-1)",
        f"{kept:,} of {total:,} ({kept / total:.2%}, pruned)",
        direction.config.param_fingerprint,
        "| eval_correlation | 0.9123 |",
        "- `model.embed_tokens.weight`",
        'AutoModel.from_pretrained("me/direction")',
        'AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M")',
    ):
        assert expected in text, expected


def test_cards_of_an_unnamed_local_base(bert, make_direction):
    base, _ = bert
    direction = make_direction(base)
    card = direction_card(direction.config)
    assert card.data.base_model is None and "AutoModelForMaskedLM" in card.text
    adapter = adapter_card(adapter_config_from_direction(direction, 0.25, -1.0), "BertForMaskedLM", repo_id="me/a")
    assert "library_name: peft" in str(adapter) and "alpha=0.25, feature_value=-1.0" in adapter.text
