"""Deploy tab against real components: Real-time Result Push to mosquitto while listening, and Flash
to board onto MicroPython behind a pty; then quitting mid-training leaves the project as it was."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import Input, Select

from core.project import Project
from tests.tui.conftest import TrackBackend
from tests.tui.test_workflow import Recorder, settle
from tui import messages as msg
from tui.app import EarshotApp
from tui.services import Services

pytestmark = [pytest.mark.slow, pytest.mark.hardware]
SR = 16000


async def test_push_publishes_every_live_decision(trained: dict[str, Any], broker: Any,
                                                  subscribe: Any) -> None:
    topic = "earshot/tui-test"
    subscriber = subscribe(topic)
    recorder = Recorder()
    app = EarshotApp(trained["root"], services=Services(TrackBackend(trained["track"]), prewarm=False))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        for field, value in (("#push-host", broker.host), ("#push-port", str(broker.port)),
                             ("#push-user", broker.user), ("#push-password", broker.password),
                             ("#push-topic", topic)):
            app.query_one(field, Input).value = value
        app.query_one("#export-btn").focus()
        await pilot.press("p")  # connect
        await pilot.pause()
        assert app.services.push.publisher is not None
        assert app.services.push.publisher.wait_connected(10)
        await pilot.press("4")
        await pilot.pause()
        app.query_one("#threshold", Input).value = "0.5"
        app.query_one("#listen-btn").focus()
        await pilot.press("l")
        await settle(app, pilot)  # the track ends: listening stops by itself
        decisions = [m.decision for m in recorder.of(msg.DecisionMade)]  # type: ignore[attr-defined]
        assert decisions, "no decision on 8 unseen words"
        assert {d.label for d in decisions} <= {"yes", "no"}  # Background Noise is not reported
        stopped = recorder.of(msg.ListeningStopped)
        assert stopped[-1].reason == "end"  # type: ignore[attr-defined]
        payloads = subscriber.wait_for(len(decisions), timeout=10)
        stats = app.services.push.publisher.stats
        assert stats.sent + stats.skipped == len(decisions)  # unchanged labels are skipped (on_change)
        assert len(payloads) == stats.sent >= 1
        await pilot.press("5")
        await pilot.pause()
        app.query_one("#export-btn").focus()
        await pilot.press("o")  # disconnect
        await settle(app, pilot)
        assert app.services.push.publisher is None
        assert recorder.of(msg.PushStopped)[0].sent == stats.sent  # type: ignore[attr-defined]
        assert f"{stats.sent} sent" in str(app.query_one("#push-status").render())
    saved = Project.open(trained["root"]).settings("push")
    assert saved["topic"] == topic and saved["port"] == broker.port


async def test_flash_to_board(trained: dict[str, Any], micropython_board: str) -> None:
    recorder = Recorder()
    ports = [SimpleNamespace(device=micropython_board, description="MicroPython (wasm)")]
    app = EarshotApp(trained["root"], services=Services(serial_ports=lambda: ports, prewarm=False))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        assert str(app.query_one("#deploy-port").value) == micropython_board
        app.query_one("#flash-dir", Input).value = "/home"
        app.query_one("#export-btn").focus()
        await pilot.press("f")
        await settle(app, pilot)
        assert not recorder.of(msg.FlashFailed), recorder.of(msg.FlashFailed)[0].error  # type: ignore
        finished = recorder.of(msg.FlashFinished)
        assert len(finished) == 1
        assert "model_int8.tflite" in finished[0].summary and "main.py" in finished[0].summary  # type: ignore
        progress = [m.fraction for m in recorder.of(msg.FlashProgressed)]  # type: ignore[attr-defined]
        assert progress and max(progress) == pytest.approx(1.0)
        assert "Flashed" in str(app.query_one("#flash-result").render())


async def test_quitting_mid_training_keeps_the_model(trained: dict[str, Any]) -> None:
    root = trained["root"]
    before = json.loads((root / "models" / "latest" / "metadata.json").read_text())
    recorder = Recorder()
    app = EarshotApp(root, services=Services(prewarm=False))
    async with app.run_test(size=(100, 34), message_hook=recorder) as pilot:
        await pilot.press("3")
        await pilot.pause()
        app.query_one("#epochs", Input).value = "100"
        app.query_one("#model-kind", Select).value = "small"  # a head trains 100 epochs in under a second
        app.query_one("#train-btn").focus()
        await pilot.press("t")
        for _ in range(600):  # the small CNN's first epoch, within two minutes
            if recorder.of(msg.EpochEnded) or recorder.of(msg.TrainingFinished):
                break
            await pilot.pause(0.2)
        assert recorder.of(msg.EpochEnded), "training never started"
        app.exit()  # quit mid-training: the worker is cancelled, the model kept
    assert len(recorder.of(msg.EpochEnded)) < 100
    after = json.loads((root / "models" / "latest" / "metadata.json").read_text())
    assert after["created"] == before["created"] and after["history"] == before["history"]
    Project.open(root)
    assert not [p for p in (root / "models").iterdir() if p.name.startswith(".building")]
