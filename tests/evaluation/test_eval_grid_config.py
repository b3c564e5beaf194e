"""`DecoderGridConfig`: the grid's options in one dataclass, read by HfArgumentParser and overridden by name."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import HfArgumentParser

from hf_gradiend.evaluation import (
    DEFAULT_FEATURE_VALUES,
    DEFAULT_LEARNING_RATES,
    DecoderGridConfig,
    GridPoint,
    LMSThresholdPolicy,
    evaluate_decoder_grid,
)
from hf_gradiend.evaluation.grid_config import GRID_OPTIONS, grid_config
from hf_gradiend.evaluation.grid_search import LineState, skip_reason


def test_every_field_has_help_and_the_defaults_are_the_documented_ones():
    config = DecoderGridConfig()
    assert config.learning_rates == list(DEFAULT_LEARNING_RATES)
    assert config.feature_values == list(DEFAULT_FEATURE_VALUES)
    assert (config.policy, config.early_stop, config.mask_ratio, config.case_variants) == (
        "lms_threshold", True, 0.15, True
    )
    assert (config.max_size, config.batch_size, config.seed) == (None, None, 0)
    for f in dataclasses.fields(DecoderGridConfig):
        assert f.metadata.get("help"), f.name
    assert DecoderGridConfig().learning_rates is not DecoderGridConfig().learning_rates  # no shared list


def test_hf_argument_parser_reads_the_config():
    (config,) = HfArgumentParser(DecoderGridConfig).parse_args_into_dataclasses(
        ["--learning_rates", "0.01", "1", "--policy", "lms_times_metric", "--no_early_stop", "--seed", "3",
         "--max_size", "8"], look_for_args_file=False,
    )
    assert config == DecoderGridConfig(
        learning_rates=[0.01, 1.0], policy="lms_times_metric", early_stop=False, seed=3, max_size=8
    )
    (default,) = HfArgumentParser(DecoderGridConfig).parse_args_into_dataclasses([], look_for_args_file=False)
    assert default == DecoderGridConfig()
    with pytest.raises(SystemExit):  # the policy names are the parser's choices
        HfArgumentParser(DecoderGridConfig).parse_args_into_dataclasses(["--policy", "best"], look_for_args_file=False)


def test_overrides_apply_on_top_of_a_config_without_changing_it():
    base = DecoderGridConfig(learning_rates=[0.1], seed=5)
    config = grid_config(base, seed=7, early_stop=False)
    assert (config.learning_rates, config.seed, config.early_stop) == ([0.1], 7, False)
    assert base.seed == 5 and base.early_stop is True
    assert grid_config(None) == DecoderGridConfig()
    policy = LMSThresholdPolicy(0.9)
    assert grid_config(policy=policy).policy is policy  # an instance works from Python
    assert set(GRID_OPTIONS) == {f.name for f in dataclasses.fields(DecoderGridConfig)}
    with pytest.raises(TypeError, match=r"Unknown decoder grid option\(s\) \['alpha'\]"):
        grid_config(base, alpha=1.0)
    with pytest.raises(TypeError, match="config must be a DecoderGridConfig"):
        grid_config({"seed": 1})


def test_the_line_rules_are_named_predicates():
    order = (0.01, 0.1, 1.0, 10.0)
    line = LineState(start=2)
    assert line.indices(4) == [2, 3, 1, 0]
    assert not any(skip_reason(line, i, 1.0, order) for i in range(4))
    line.stopped = "LMS fell"
    assert line.stopped_early(3) and skip_reason(line, 3, 1.0, order) == "early stop: LMS fell"
    assert not line.stopped_early(1)
    line.losing = GridPoint(1.0, 1.0, "evaluated")
    assert line.between_loser_and_smallest(1) and not line.between_loser_and_smallest(0)
    assert "loses for every target" in skip_reason(line, 1, 1.0, order)
    line.dominating = GridPoint(1.0, 1.0, "evaluated")
    assert line.dominated(0) and line.dominated(1) and not line.dominated(2)
    assert "dominated by learning rate 1" in skip_reason(line, 0, 1.0, order)


def test_a_config_and_keyword_arguments_give_the_same_grid(lm_bert, rows, neutral_texts, random_direction):
    model, tokenizer = lm_bert
    direction = random_direction(model)
    config = DecoderGridConfig(learning_rates=[0.1, 1.0], feature_values=[1.0], early_stop=False, max_size=4)
    by_config = evaluate_decoder_grid(model, tokenizer, direction, rows, neutral_texts, config=config,
                                      show_progress=False)
    by_keywords = evaluate_decoder_grid(model, tokenizer, direction, rows, neutral_texts, learning_rates=[0.1, 1.0],
                                        feature_values=[1.0], early_stop=False, max_size=4, show_progress=False)
    strip = [{k: v for k, v in p.items() if k != "seconds"} for p in by_config["grid"]]
    assert strip == [{k: v for k, v in p.items() if k != "seconds"} for p in by_keywords["grid"]]
    assert by_config["settings"] == by_keywords["settings"]
    overridden = evaluate_decoder_grid(model, tokenizer, direction, rows, neutral_texts, config=config,
                                       learning_rates=[0.1], show_progress=False)
    assert overridden["settings"]["learning_rates"] == [0.1] and config.learning_rates == [0.1, 1.0]
