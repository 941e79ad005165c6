"""Run one benchmark module (`python -m bench NAME ...`) or all of them (`python -m bench all`)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"__main__", "common"}


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in SKIP)


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m bench NAME [ARGS...] | all\nbenchmarks: " + ", ".join(names))
        return 0
    name, rest = argv[0], argv[1:]
    if name == "all":
        return max((importlib.import_module(f"bench.{n}").main(rest) or 0) for n in names)
    if name not in names:
        print(f"no benchmark named {name!r}; choose from: {', '.join(names)}", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"bench.{name}").main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
