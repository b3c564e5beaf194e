"""The argument parser of every sub-command: dataclass fields as flags (`HfArgumentParser`), or a JSON/YAML file."""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser

CONFIG_FLAG = "--config"
_WIDTH = 100


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples printed as written; a flag's default shown after its help unless it is unset."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if isinstance(action, argparse._StoreFalseAction):  # the --no_<flag> twin of a boolean flag
            return f"Turn off --{action.dest}."
        if action.required or action.default in (None, argparse.SUPPRESS) or "%(default)" in text:
            return text
        return f"{text} (default: %(default)s)"


class OneLineErrorParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (argparse's default prints the whole usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class CommandParser(OneLineErrorParser, HfArgumentParser):
    """
    `HfArgumentParser` of one sub-command. Besides flags it reads `--config FILE` (JSON, or YAML with a `.yaml` /
    `.yml` suffix) whose keys are the flag names; flags given as well override the file. Errors are one line.

    Args:
        dataclass_types (`tuple[type, ...]`): The dataclasses whose fields become flags.
        prog (`str`): The command as typed, e.g. `"hf-gradiend train"`.
        description (`str`): What the command does.
        example (`str`): A copy-paste example, shown at the end of `--help`.
    """

    def __init__(self, dataclass_types: Sequence[type], prog: str, description: str, example: str):
        notes = (
            f"All flags can also come from a JSON or YAML file: {prog} --config args.yaml (keys are the flag names "
            "without --; flags given as well override it). Set HF_GRADIEND_TRACEBACK=1 to see the full traceback "
            "of an error."
        )
        epilog = f"example:\n{example.rstrip()}\n\n{textwrap.fill(notes, _WIDTH)}"
        super().__init__(
            tuple(dataclass_types), prog=prog, description=textwrap.fill(description, _WIDTH), epilog=epilog,
            formatter_class=_Formatter,
        )
        self.add_argument(
            CONFIG_FLAG, metavar="FILE", default=argparse.SUPPRESS,
            help="JSON or YAML file of arguments (keys = flag names); flags given as well override its values.",
        )

    def parse(self, argv: Sequence[str]) -> tuple[Any, ...]:
        """
        Parse `argv` (the arguments after the sub-command) into one instance per dataclass.

        Raises:
            `ValueError`: The config file cannot be read or has keys that are not flags of this command.
        """
        config, rest = split_config_flag(argv)
        if config is not None:
            self.apply_config(read_config(config), config)
        outputs = self.parse_args_into_dataclasses(rest, return_remaining_strings=True, look_for_args_file=False)
        *parsed, remaining = outputs
        if remaining:
            self.error(f"unrecognized arguments: {' '.join(remaining)}")
        return tuple(parsed)

    def apply_config(self, values: dict[str, Any], source: str) -> None:
        """Use `values` (flag name → value) as defaults: flags given on the command line still win."""
        values = {str(k).replace("-", "_"): v for k, v in values.items()}
        dests = {a.dest for a in self._actions} - {"help", "config"}
        unknown = sorted(set(values) - dests)
        if unknown:
            raise ValueError(
                f"{source} has key(s) {unknown} that are not flags of {self.prog}; use the flag names of "
                f"`{self.prog} --help` without the leading --."
            )
        for action in self._actions:
            if action.dest in values:
                action.required = False
        self.set_defaults(**values)


def split_config_flag(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """`(config path or None, the other arguments)` from `[... --config FILE ...]` or `--config=FILE`."""
    rest, config = [], None
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        if item == CONFIG_FLAG:
            if index + 1 >= len(items):
                raise ValueError(f"{CONFIG_FLAG} needs a file path (a .json, .yaml or .yml file).")
            config, index = items[index + 1], index + 2
            continue
        if item.startswith(CONFIG_FLAG + "="):
            config = item.split("=", 1)[1]
        else:
            rest.append(item)
        index += 1
    return config, rest


def read_config(path: str) -> dict[str, Any]:
    """A JSON or YAML (`.yaml`/`.yml`) file holding one mapping of flag names to values."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"No config file at {path!r}.")
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ImportError(f"Reading {path!r} needs PyYAML: pip install pyyaml (or use a .json file).") from error
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"{path!r} is not valid YAML: {str(error).splitlines()[0]}") from error
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path!r} is not valid JSON ({error}); YAML files need a .yaml or .yml suffix") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path!r} must hold a mapping of flag names to values, not a {type(values).__name__}.")
    return values


def json_option(name: str, value: Any) -> Any:
    """A flag given as a JSON string (`--class_merge_map '{"sg": ["1SG"]}'`), or already a value from a config file."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        example = '{"singular": ["1SG", "3SG"]}'
        raise ValueError(f"--{name} must be JSON, e.g. '{example}'; got {value!r} ({error}).") from None
