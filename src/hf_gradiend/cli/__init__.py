"""The `hf-gradiend` command: data, train, evaluate, rewrite, compare, push and info over the Python API.

Every sub-command is a thin layer over one part of the API; its flags are the fields of dataclasses (parsed with
`transformers.HfArgumentParser`) and may come from a JSON or YAML file (`--config args.yaml`). Errors exit with
status 1 (status 2 for bad flags) and one line on stderr; `HF_GRADIEND_TRACEBACK=1` shows the traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence

PROG = "hf-gradiend"
COMMANDS = ("data", "train", "evaluate", "rewrite", "compare", "push", "info")
TRACEBACK_ENV = "HF_GRADIEND_TRACEBACK"


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run `hf-gradiend` with `argv` (the arguments after the program name; `sys.argv[1:]` by default).

    Returns:
        The exit status: 0 on success, 1 on an error (printed as one line), 130 when interrupted. Bad flags and
        `--help` exit through `SystemExit` (status 2 and 0), as argparse does.

    Example:

    ```python
    >>> from hf_gradiend.cli import main
    >>> main(["info", "--direction", "runs/3sg-3pl"])
    ```
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv:
        top.print_help(sys.stderr)
        return 2
    if argv[0] not in COMMANDS:
        top.parse_args(argv[:1])  # --help, --version, or an error naming the valid commands
        return 0
    command = argv[0]
    module = importlib.import_module(f".{command}", __name__)
    try:
        parser = command_parser(command)
        parsed = parser.parse(argv[1:])
        with _logging_to_stderr():
            module.run(*parsed)
    except KeyboardInterrupt:
        print(f"{PROG} {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went into a command that stopped reading, e.g. `| head`
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # noqa: BLE001 - every failure becomes one line unless the traceback is asked for
        if os.environ.get(TRACEBACK_ENV):
            raise
        _close_progress_bars()
        print(f"{PROG} {command}: error: {error_line(error)}", file=sys.stderr)
        return 1
    return 0


def command_parser(command: str):
    """The [`CommandParser`] of a sub-command (its flags, description and example)."""
    from .parsing import CommandParser

    module = importlib.import_module(f".{command}", __name__)
    return CommandParser(module.argument_types(), f"{PROG} {command}", module.DESCRIPTION, module.EXAMPLE)


def error_line(error: BaseException) -> str:
    """One line for an error: its message (with the exception's name for unexpected kinds), whitespace collapsed."""
    message = " ".join(str(error).split()) or type(error).__name__
    expected = (ValueError, TypeError, OSError, ImportError, KeyError)
    if isinstance(error, KeyError) and error.args:
        message = str(error.args[0])
    if not isinstance(error, expected):
        message = f"{type(error).__name__}: {message}"
    return message


def _top_parser():
    from .._version import __version__
    from .parsing import OneLineErrorParser

    parser = OneLineErrorParser(
        prog=PROG,
        description="GRADIEND feature directions on Hugging Face models: create data, train, evaluate, rewrite, "
                    "compare and share.",
        epilog=f"Run `{PROG} <command> --help` for a command's flags and an example.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="<command>")
    for name in COMMANDS:
        commands.add_parser(name, help=importlib.import_module(f".{name}", __name__).HELP, add_help=False)
    return parser


def _close_progress_bars() -> None:
    """Close progress bars an error interrupted, so they do not redraw below the error line."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


@contextlib.contextmanager
def _logging_to_stderr():
    """While a command runs, hf_gradiend's own messages (skipped runs, convergence warnings) go to stderr at INFO."""
    logger = logging.getLogger("hf_gradiend")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time of the message."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


__all__ = ["COMMANDS", "command_parser", "main"]
