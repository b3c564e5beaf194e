"""The flags several sub-commands share, declared once: a saved direction, its base model, and the rows of its classes.

Each command's own dataclass inherits the groups it needs (`RewriteArguments(DeviceArguments, BaseModelArguments,
DirectionArguments)`), so a shared flag has one name, one help text and one default. The fields are keyword-only, so
the groups combine in any order; the flags appear in `--help` in reverse order of the bases (the last base first).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class DirectionArguments:
    """
    `--direction`: a saved direction.

    Args:
        direction (`str`): A folder written by `hf-gradiend train` (or `save_pretrained`) or a Hub id.
    """

    direction: str = field(metadata={"help": "The saved direction: a folder or a Hub id."})


@dataclass(kw_only=True)
class BaseModelArguments:
    """
    `--model`, `--tokenizer`: the base model a command loads (`hf-gradiend train` makes `--model` required).

    Args:
        model (`str`, *optional*): The base model (a Hub id or a folder); the one the direction records by default.
        tokenizer (`str`, *optional*): The tokenizer; the base model's by default.
    """

    model: str | None = field(default=None, metadata={"help": "The base model; the one the direction records."})
    tokenizer: str | None = field(default=None, metadata={"help": "Tokenizer (defaults to the base model's)."})


@dataclass(kw_only=True)
class DeviceArguments:
    """
    `--use_cpu` for the commands that run a model without training arguments (which have their own `--use_cpu`).

    Args:
        use_cpu (`bool`, *optional*, defaults to `False`): Run on the CPU even if a GPU is available.
    """

    use_cpu: bool = field(default=False, metadata={"help": "Run on the CPU even if a GPU is available."})


@dataclass(kw_only=True)
class RowsArguments:
    """
    `--data`, `--eval_neutral_data`, `--class_merge_map`: the rows of a direction's two classes.

    Args:
        data (`str`): Rows of the direction's two classes: a `save_to_disk` folder (e.g. `hf-gradiend data`'s
            `training/`) or a `.csv`, `.parquet` or `.json(l)` file.
        eval_neutral_data (`str`, *optional*): Feature-neutral texts: a `save_to_disk` folder or a
            `.txt`/`.csv`/`.json`/`.parquet` file.
        class_merge_map (`str`, *optional*): Merge raw classes first, as JSON (a mapping in a config file).
    """

    data: str = field(
        metadata={"help": "Rows of the direction's two classes: a save_to_disk folder (e.g. `hf-gradiend data`'s "
                          "training/) or a .csv, .parquet or .json(l) file."}
    )
    eval_neutral_data: str | None = field(
        default=None, metadata={"help": "Feature-neutral texts: a save_to_disk folder or a .txt/.csv/.json/.parquet."}
    )
    class_merge_map: str | None = field(
        default=None, metadata={"help": 'Merge raw classes first, as JSON: \'{"singular": ["1SG", "3SG"], ...}\'.'}
    )


__all__ = ["BaseModelArguments", "DeviceArguments", "DirectionArguments", "RowsArguments"]
