"""Argument parsing and dispatch. Heavy modules are imported by the command that needs them."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from core import __version__
from core.errors import EarshotError

DEBUG_ENV = "EARSHOT_DEBUG"
INTERNAL_ERROR = 70  # sysexits' EX_SOFTWARE; every expected error exits 1, Ctrl-C 130

# Each module defines `register(subparsers)`, adding its subcommands with `func` set.
COMMAND_MODULES = (
    "earshot.commands.project",
    "earshot.commands.samples",
    "earshot.commands.train",
    "earshot.commands.live",
    "earshot.commands.validate",
    "earshot.commands.deploy",
    "earshot.commands.board",
    "earshot.commands.app",
)


class Parser(argparse.ArgumentParser):
    """Usage mistakes are one line too: `earshot: error: ...` with where to find the right usage."""

    def error(self, message: str) -> NoReturn:
        print(f"earshot: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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


def report_internal_error(error: BaseException) -> None:
    """The last resort: one line, and the traceback only when EARSHOT_DEBUG=1 asks for it."""
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        traceback.print_exception(error, file=sys.stderr)
    where = ""
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}"
    print(f"earshot: error: internal error: {type(error).__name__}: {str(error)[:200]}{where} "
          f"(please report it with the command you ran; set {DEBUG_ENV}=1 to see the details)",
          file=sys.stderr)


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
    except MemoryError as error:
        report_error(EarshotError("out of memory", "close other programs, or use a smaller input"))
        del error
        return 1
    except OSError as error:  # a file the command had to read or write, not covered by a nicer message
        name = f" {error.filename}" if error.filename else ""
        report_error(EarshotError(f"cannot use{name}: {error.strerror or error}",
                                  "check the path, its permissions and the free disk space"))
        return 1
    except Exception as error:  # noqa: BLE001 (the last resort: never a traceback without EARSHOT_DEBUG)
        report_internal_error(error)
        return INTERNAL_ERROR
