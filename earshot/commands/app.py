"""`earshot tui [DIR]`: open the terminal app (also what `earshot` with no command does)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tui` subcommand."""
    parser = subparsers.add_parser(
        "tui", help="open the terminal app (the default command)",
        description="Open the terminal app on DIR, else on the project in the current folder, "
                    "else on the Project tab.")
    parser.add_argument("dir", nargs="?", type=Path, help="a project folder")
    parser.set_defaults(func=run_tui)


def choose_project(folder: Path | None, cwd: Path) -> Path | None:
    """DIR (or the project containing it), else the project containing the current folder."""
    from core.project import Project

    if folder is not None:
        return Project.find(folder) or folder
    return Project.find(cwd)


def run_tui(args: argparse.Namespace) -> int:
    from tui.app import EarshotApp
    from tui.native_output import native_output_to_log
    from tui.services import Services

    # the real outside world: PortAudio microphones, USB serial ports, an MQTT publisher
    app = EarshotApp(choose_project(args.dir, Path.cwd()), services=Services())
    with native_output_to_log():
        app.run()
    return 0
