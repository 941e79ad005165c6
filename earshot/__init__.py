"""The `earshot` command line: one subcommand per action of the app (see `earshot --help`)."""

from core import __version__

__all__ = ["__version__"]
