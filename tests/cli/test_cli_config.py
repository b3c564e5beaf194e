"""Arguments from a JSON or YAML file (`--config`), overridden by flags given as well."""

from __future__ import annotations

import json

import pytest

from hf_gradiend.cli import command_parser, main
from hf_gradiend.training import PostPruneConfig, PrePruneConfig


def test_yaml_config_with_nested_values_and_a_flag_override(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        "model: some/model\ndata: rows.csv\noutput_dir: out\nmax_steps: 12\nparams: ['*.layer.1.*']\n"
        "pre_prune: {topk: 0.05, n_samples: 4}\npost_prune: {topk: 100}\n"
        "class_merge_map: {singular: [1SG, 3SG], plural: [1PL, 3PL]}\ntarget_classes: [singular, plural]\n"
    )
    data_args, training_args = command_parser("train").parse(["--config", str(config), "--max_steps", "30"])
    assert data_args.model == "some/model" and data_args.target_classes == ["singular", "plural"]
    assert data_args.class_merge_map == {"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]}
    assert training_args.max_steps == 30  # the flag wins over the file
    assert training_args.params == ["*.layer.1.*"]
    assert training_args.pre_prune == PrePruneConfig(n_samples=4, topk=0.05)
    assert training_args.post_prune == PostPruneConfig(topk=100)


def test_json_config_and_json_flags(tmp_path):
    config = tmp_path / "args.json"
    config.write_text(json.dumps({"direction": "a", "output-dir": "b", "alpha": 0.5}))
    (args,) = command_parser("rewrite").parse([f"--config={config}", "--feature_value", "-1"])
    assert (args.direction, args.output_dir, args.alpha, args.feature_value) == ("a", "b", 0.5, -1.0)
    _, training_args = command_parser("train").parse(
        ["--model", "m", "--data", "d", "--pre_prune", '{"topk": 10}', "--output_dir", str(tmp_path / "o")]
    )
    assert training_args.pre_prune == PrePruneConfig(topk=10)


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ('{"direction": "a", "colour": "red"}', ".json", r"key\(s\) \['colour'\] that are not flags"),
        ("{not json", ".json", "is not valid JSON"),
        ("- a\n- b\n", ".yaml", "must hold a mapping"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, content, suffix, message):
    config = tmp_path / f"args{suffix}"
    config.write_text(content)
    assert main(["info", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hf-gradiend info: error: ") and len(err.splitlines()) == 1
    assert pytest.importorskip("re").search(message, err)


def test_data_classes_as_flags_or_as_mappings_in_a_config_file(tmp_path):
    from hf_gradiend.cli.data import class_config

    config = tmp_path / "data.yaml"
    config.write_text("output_dir: out\nclasses:\n  - {id: 3SG, targets: [he, she]}\n  - 3PL=they\n")
    (args,) = command_parser("data").parse(["--config", str(config)])
    first, second = (class_config(c) for c in args.classes)
    assert (first.id, list(first.targets)) == ("3SG", ["he", "she"])
    assert (second.id, list(second.targets)) == ("3PL", ["they"])
    assert class_config("he,she").id == "he"
