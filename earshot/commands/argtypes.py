"""Argument types that refuse out-of-range values while parsing, so a bad number is one line
(`earshot: error: argument --seed: ...`) before any work starts, never a traceback from deep inside."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number from `low` to `high` (inclusive)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            limit = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range (give a whole number {limit})")
        return value

    parse.__name__ = "whole number"
    return parse


def number(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """A finite number from `low` (or above it, with `above_low`) to `high`; refuses nan and inf."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = value <= low if above_low else value < low
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if too_low or value > high:
            side = "above" if above_low else "from"
            raise argparse.ArgumentTypeError(f"{text} is out of range (give a number {side} {low:g} "
                                             f"up to {high:g})")
        return value

    parse.__name__ = "number"
    return parse


def finite(text: str) -> float:
    """Any finite number (the command checks the range, with its own words): refuses nan and inf."""
    return number(-math.inf, math.inf)(text)


SEED = whole(0, 2**32 - 1)
EPOCHS = whole(1, 1000)
BATCH_SIZE = whole(1, 4096)
LEARNING_RATE = number(0.0, 1.0, above_low=True)
RECORD_SECONDS = number(0.0, 1800.0, above_low=True)
COUNTDOWN = whole(0, 60)
SPEED = number(0.0, 1000.0)
SAMPLE_RATE = whole(4000, 96000)
CLIP_SECONDS = number(0.25, 10.0)
MIN_SAMPLES = whole(1, 100_000)
MIN_INTERVAL = number(0.0, 3600.0)
BAUD = whole(50, 4_000_000)
TIMEOUT = number(0.1, 3600.0)
THRESHOLD = number(0.0, 1.0)  # the ranges the runtime's Streamer accepts, refused before a board is touched
SMOOTH_WINDOWS = whole(1, 100)
HOP_SECONDS = number(0.05, 10.0)
WAIT_SECONDS = number(1.0, 3600.0)
SSH_TIMEOUT = whole(1, 3600)


def add_project_dir(parser: argparse.ArgumentParser, what: str = "project folder") -> None:
    """DIR as the command's only positional, `.` when left out (as `train` and `export` take it).
    Commands with more positionals after DIR keep it required: `import a.zip b.zip` must not read a.zip
    as the project."""
    parser.add_argument("dir", nargs="?", default=Path("."), type=Path, help=f"{what} (default: .)")
