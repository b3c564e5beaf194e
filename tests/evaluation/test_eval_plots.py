"""Encoder and decoder figures render to PNG and refuse bad input without writing."""

from __future__ import annotations

import pytest

from hf_gradiend.evaluation import evaluate_decoder_grid
from hf_gradiend.plotting.decoder import plot_decoder_grid
from hf_gradiend.plotting.encoder import plot_encoder_distributions

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def grid(lm_gpt2, rows, neutral_texts):
    model, tokenizer = lm_gpt2
    from hf_gradiend.gradients import select_parameters
    from hf_gradiend.modeling_gradiend import GradiendModel

    direction = GradiendModel.for_base_model(model, select_parameters(model), feature_classes=["3SG", "3PL"],
                                             objective="causal_lm")
    return evaluate_decoder_grid(model, tokenizer, direction, rows, neutral_texts, increase=None,
                                 learning_rates=(1e-2, 1.0, 100.0), show_progress=False)


def test_decoder_plot_has_one_column_per_selection(grid, tmp_path):
    figure, path = plot_decoder_grid(grid, output_path=tmp_path / "sub" / "grid.png")
    assert path.read_bytes().startswith(PNG)
    assert len(figure.axes) == 2 * 4
    titles = [a.get_title() for a in figure.axes if a.get_title()]
    assert any(t.startswith("3SG_weaken: ") for t in titles)
    figure, path = plot_decoder_grid(grid, keys=["3PL"])
    assert path is None and len(figure.axes) == 2


def test_decoder_plot_rejects_unknown_keys_and_formats(grid, tmp_path):
    with pytest.raises(ValueError, match=r"Cannot plot selection\(s\) \['2SG'\]"):
        plot_decoder_grid(grid, keys=["2SG"], output_path=tmp_path / "a.png")
    with pytest.raises(ValueError, match="needs a file suffix"):
        plot_decoder_grid(grid, output_path=tmp_path / "grid")
    assert list(tmp_path.iterdir()) == []


def test_encoder_plot_columns(tmp_path):
    encodings = {
        "h": [0.9, 0.8, -0.7, -0.95, 0.1, -0.2, 0.05],
        "group": ["training"] * 4 + ["neutral_training_masked"] * 2 + ["neutral_dataset"],
        "factual_class": ["3SG", "3SG", "3PL", "3PL", "neutral", "neutral", "neutral"],
    }
    figure, path = plot_encoder_distributions(encodings, ["3PL", "3SG"], output_path=tmp_path / "enc.png")
    assert path.read_bytes().startswith(PNG)
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels[:2] == ["3PL", "3SG"] and len(labels) == 4
    with pytest.raises(ValueError, match="lack the column"):
        plot_encoder_distributions({"h": [0.1]}, output_path=tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
