"""Argument parsing and dispatch. Heavy modules are imported by the command that needs them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from core import __version__
from core.errors import EarshotError

# Each module defines `register(subparsers)`, adding its subcommands with `func` set.
COMMAND_MODULES = (
    "earshot.commands.project",
    "earshot.commands.samples",
    "earshot.commands.train",
    "earshot.commands.live",
    "earshot.commands.validate",
    "earshot.commands.deploy",
    "earshot.commands.app",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="earshot",
        description="Train sound classifiers from the terminal: record, train, validate, deploy.",
        epilog="Run 'earshot' with no command to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"earshot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def route(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """No command, or only a folder (`earshot DIR`), opens the app."""
    commands = {name for action in parser._actions
                if isinstance(action, argparse._SubParsersAction) for name in action.choices}
    if not words:
        return ["tui"]
    if len(words) == 1 and words[0] not in commands and Path(words[0]).is_dir():
        return ["tui", *words]
    return words


def report_error(error: EarshotError) -> None:
    """One line on stderr: what went wrong and what to do."""
    hint = f" ({error.hint})" if error.hint else ""
    print(f"earshot: error: {error.message}{hint}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(route(parser, sys.argv[1:] if argv is None else list(argv)))
    try:
        return int(args.func(args) or 0)
    except EarshotError as error:
        report_error(error)
        return 1
    except KeyboardInterrupt:
        print("earshot: interrupted; the project is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
