"""The command line's routing and its one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from earshot.cli import build_parser, route
from tests.conftest import REPO


def test_no_command_or_a_lone_folder_opens_the_app(tmp_path: Path) -> None:
    parser = build_parser()
    assert route(parser, []) == ["tui"]
    assert route(parser, [str(tmp_path)]) == ["tui", str(tmp_path)]
    assert route(parser, ["info", str(tmp_path)]) == ["info", str(tmp_path)]


def test_a_folder_named_like_a_command_stays_a_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "devices").mkdir()
    assert route(build_parser(), ["devices"]) == ["devices"]


def test_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "earshot", "info", str(tmp_path / "nowhere")],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("earshot: error: ") and "earshot new" in lines[0]
