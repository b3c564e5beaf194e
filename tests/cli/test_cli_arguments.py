"""Shared flags are declared once: the decoder grid's come from `DecoderGridConfig`, the direction's, base model's and
rows' from the dataclasses in `hf_gradiend.cli.arguments`; the command line's defaults are theirs."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import TrainingArguments

from hf_gradiend.cli import COMMANDS, command_parser
from hf_gradiend.cli.arguments import BaseModelArguments, DeviceArguments, DirectionArguments, RowsArguments
from hf_gradiend.evaluation import DecoderGridConfig

SHARED = (DirectionArguments, BaseModelArguments, DeviceArguments, RowsArguments, DecoderGridConfig)


def test_evaluate_reads_the_decoder_grid_config_with_its_defaults():
    args, grid = command_parser("evaluate").parse(["--direction", "run", "--data", "rows"])
    assert grid == DecoderGridConfig()  # no default typed a second time
    assert (args.direction, args.data, args.split, args.decoder_mode) == ("run", "rows", "test", "strengthen")
    _, grid = command_parser("evaluate").parse(
        ["--direction", "run", "--data", "rows", "--learning_rates", "0.1", "1", "--no_early_stop", "--seed", "2",
         "--policy", "lms_times_metric", "--mask_ratio", "0.3"]
    )
    assert grid == DecoderGridConfig(learning_rates=[0.1, 1.0], early_stop=False, seed=2, policy="lms_times_metric",
                                     mask_ratio=0.3)


def test_every_flag_default_is_the_dataclass_default():
    for command in COMMANDS:
        parser = command_parser(command)
        defaults = {}
        for action in parser._actions:  # the flag itself, not its --no_<flag> twin
            defaults.setdefault(action.dest, action.default)
        for kind in parser.dataclass_types:
            if issubclass(kind, TrainingArguments):  # transformers' own fields, parsed as transformers does
                continue
            for f in dataclasses.fields(kind):
                if f.default is not dataclasses.MISSING:
                    assert defaults[f.name] == f.default, (command, f.name)
                elif f.default_factory is not dataclasses.MISSING:
                    assert defaults[f.name] == f.default_factory(), (command, f.name)


@pytest.mark.parametrize("command", ["train", "evaluate", "rewrite", "info"])
def test_shared_flags_come_from_the_shared_dataclasses(command):
    shared = {f.name: kind for kind in SHARED for f in dataclasses.fields(kind)}
    for kind in command_parser(command).dataclass_types:
        own = {f.name for f in dataclasses.fields(kind)} - {
            f.name for base in kind.__mro__[1:] if dataclasses.is_dataclass(base) for f in dataclasses.fields(base)
        }
        if kind in SHARED:
            continue
        # a command may narrow a shared field (train's --model is required), nothing else is declared twice
        assert own & set(shared) <= {"model"}, (command, kind.__name__, sorted(own & set(shared)))


def test_commands_inherit_the_groups_they_share():
    from hf_gradiend.cli.evaluate import EvaluateArguments
    from hf_gradiend.cli.info import InfoArguments
    from hf_gradiend.cli.rewrite import RewriteArguments
    from hf_gradiend.cli.train import TrainDataArguments

    assert all(issubclass(EvaluateArguments, k) for k in SHARED[:4])
    assert all(issubclass(RewriteArguments, k) for k in (DirectionArguments, BaseModelArguments, DeviceArguments))
    assert issubclass(InfoArguments, DirectionArguments)
    assert issubclass(TrainDataArguments, RowsArguments) and issubclass(TrainDataArguments, BaseModelArguments)
