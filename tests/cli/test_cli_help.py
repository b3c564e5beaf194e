"""`--help` of the command and of every sub-command: flags, description and a copy-paste example."""

from __future__ import annotations

import pytest

from hf_gradiend import __version__
from hf_gradiend.cli import COMMANDS, main


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: hf-gradiend")
    for command in COMMANDS:
        assert f"    {command} " in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: hf-gradiend {command}")
    example = text.split("example:\n", 1)[1]
    assert f"hf-gradiend {command} --" in example  # a runnable command line, flags included
    assert "--config FILE" in text


def test_train_help_lists_training_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--model", "--data", "--max_steps", "--gradient_batch_size", "--pre_prune", "--class_merge_map"):
        assert flag in text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"hf-gradiend {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "<command>" in capsys.readouterr().err
