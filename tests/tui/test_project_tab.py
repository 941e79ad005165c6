"""Project tab: open the demo, open a typed folder, reopen from the recent list, refuse bad folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, ListView, TabbedContent

from core.project import Project
from tests.tui.test_workflow import Recorder, settle
from tui.app import EarshotApp
from tui.services import Services


async def test_demo_open_and_recent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other"
    Project.create(other, name="other")
    recorder = Recorder()
    app = EarshotApp(services=Services(prewarm=False))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "project"
        await pilot.press("m")  # the demo, built from sample_data/ on first use
        await settle(app, pilot)
        assert app.project is not None and app.project.root == tmp_path / "earshot-demo"
        assert [c.name for c in app.project.classes] == ["Background Noise", "yes", "no", "stop"]
        assert app.project.summary().ready
        assert app.query_one(TabbedContent).active == "data"

        await pilot.press("1")
        await pilot.pause()
        await pilot.press("o")  # the Open field
        assert app.focused is app.query_one("#open-path", Input)
        app.query_one("#open-path", Input).value = str(tmp_path / "nowhere")
        await pilot.press("enter")
        await pilot.pause()
        assert app.project.root == tmp_path / "earshot-demo"  # unchanged: the error is shown
        assert any("not an earshot project" in str(n.message) for n in app._notifications)

        app.query_one("#open-path", Input).value = str(other / "samples")  # inside a project: found
        await pilot.press("enter")
        await pilot.pause()
        assert app.project.root == other

        await pilot.press("1")
        await pilot.pause()
        await pilot.press("r")  # the recent list: newest first
        recent = app.query_one("#recent", ListView)
        assert [item.project_path for item in recent.children] == [other, tmp_path / "earshot-demo"]
        recent.index = 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.project.root == tmp_path / "earshot-demo"
