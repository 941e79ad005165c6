"""The bundle's predict.py without a board: Python 3.7, requirements, the push rules, --listen errors."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.export import REQUIREMENTS, predict_script, runtime_files
from core.push.policy import PublishPolicy


@pytest.fixture(scope="module")
def predict_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """predict.py beside its copied runtime, as in an export."""
    folder = tmp_path_factory.mktemp("bundle")
    for name, data in runtime_files().items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    path = folder / "predict.py"
    path.write_text(predict_script())
    return path


def test_predict_py_runs_on_python_3_7(predict_file: Path) -> None:
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    assert vermin, "vermin is a dev dependency (pip install vermin)"
    files = [predict_file, *sorted((predict_file.parent / "earshot_runtime").glob("*.py"))]
    run = subprocess.run([vermin, "-t=3.7-", "--no-tips", "--violations", "--no-parse-comments",
                          *map(str, files)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_requirements_name_every_optional_package() -> None:
    names = {line.split(";")[0].split("#")[0].strip() for line in REQUIREMENTS.splitlines()
             if line.strip() and not line.startswith("#")}
    assert names == {"numpy", "ai-edge-litert", "tflite-runtime", "soundfile", "sounddevice", "paho-mqtt"}


@dataclass(frozen=True)
class D:
    time: float
    label: str
    confidence: float = 0.9
    scores: dict[str, float] | None = None


@pytest.mark.parametrize(("on_change", "min_interval"), [(True, 0.0), (True, 1.0), (False, 0.7)])
def test_the_board_publishes_by_earshot_s_rules(on_change: bool, min_interval: float) -> None:
    """The bundle's publisher sends exactly what core.push.policy would, on the same decisions."""
    sent: list[tuple[str, float]] = []

    from core.runtime.live import Publisher

    class Recording(Publisher):
        def _send(self, decision: dict[str, Any], now: float) -> None:
            self.last_label, self.last_time = decision["label"], now
            sent.append((decision["label"], now))

    board = Recording({"host": "127.0.0.1", "port": 1, "topic": "t", "on_change": on_change,
                       "min_interval": min_interval}, lambda _m: None)
    policy: PublishPolicy[D] = PublishPolicy(on_change=on_change, min_interval=min_interval)
    expected: list[tuple[str, float]] = []
    rng = np.random.default_rng(5)
    now = 0.0
    for _ in range(400):
        now += float(rng.choice([0.1, 0.25, 0.5, 1.2]))
        for due_now in (policy.due(now),):
            if due_now is not None:
                expected.append((due_now.label, now))
        board.tick(now)
        label = str(rng.choice(["yes", "no", "stop"]))
        if policy.offer(D(now, label), now) is not None:
            expected.append((label, now))
        board.offer({"label": label, "time": now, "confidence": 0.9, "scores": {}}, now)
    assert sent == expected and len(sent) > 50
    assert board.skipped == policy.skipped and not math.isnan(now)


def test_listen_in_a_folder_without_a_model_says_so_in_one_line(predict_file: Path) -> None:
    run = subprocess.run([sys.executable, str(predict_file), "--listen"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"predict.py: error: {predict_file.parent}: no metadata.json: not a model folder "
        "(name the folder that holds the exported model)"]


def test_predict_py_without_numpy_says_so_in_one_line(predict_file: Path, tmp_path: Path) -> None:
    (tmp_path / "numpy.py").write_text("raise ImportError(\"No module named 'numpy'\")\n")
    run = subprocess.run([sys.executable, str(predict_file), "--listen"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == "predict.py: error: numpy is missing: python3 -m pip install numpy"


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 8000])
def test_streamed_resampling_equals_resampling_the_whole_signal(rate: int) -> None:
    from core.runtime.audio import resample
    from core.runtime.live import StreamResampler

    rng = np.random.default_rng(rate)
    signal = rng.standard_normal(rate * 3).astype(np.float32) * 0.3
    stream = StreamResampler(rate, 16000)
    pieces, position = [], 0
    while position < signal.size:  # blocks of any size, as PortAudio may deliver them
        size = int(rng.integers(1, rate // 10))
        pieces.append(stream.process(signal[position:position + size]))
        position += size
    streamed = np.concatenate(pieces)
    whole = resample(signal, rate, 16000)
    assert whole.size - 16000 * 0.05 < streamed.size <= whole.size  # held back: lookahead + one step
    np.testing.assert_allclose(streamed, whole[:streamed.size], atol=1e-6)


@pytest.fixture
def saved_bundle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """open_stream's model replaced by one whose metadata holds what an export of a calibrated project
    holds (a unit-test fake: the loading itself is tested with real models elsewhere)."""
    import core.runtime.live as live

    model = SimpleNamespace(scores=lambda clips: clips, labels=["Background Noise", "yes"], sample_rate=16000,
                            clip_samples=16000, metadata={"validate": {"threshold": 0.8, "smooth_windows": 5},
                                                          "push_topic": "siot/door-bell"})
    monkeypatch.setattr(live, "load_bundle", lambda folder, name: model)
    return live


def test_the_board_listens_with_the_calibrated_threshold_and_smoothing(saved_bundle: Any) -> None:
    _, stream = saved_bundle.open_stream(saved_bundle.listen_options([]), "bundle")
    assert (stream.threshold, stream.smooth_windows) == (0.8, 5)
    _, stream = saved_bundle.open_stream(saved_bundle.listen_options(["--smooth", "2"]), "bundle")
    assert (stream.threshold, stream.smooth_windows) == (0.8, 2)  # the command line still wins


def test_export_carries_the_calibrated_smoothing(tmp_path: Path) -> None:
    from core.export import validate_settings
    from core.project import Project

    project = Project.create(tmp_path / "p")
    project.set_settings("validate", {"threshold": 0.65, "smooth_windows": 4})
    assert validate_settings(project.root) == {"threshold": 0.65, "smooth_windows": 4}


@pytest.mark.parametrize("url, topic", [("mqtt://broker", "siot/door-bell"),
                                        ("broker:1884", "siot/door-bell"),
                                        ("mqtt://broker/lab/one", "lab/one")])
def test_the_board_publishes_to_the_project_topic_like_listen(saved_bundle: Any, url: str,
                                                              topic: str) -> None:
    options = saved_bundle.listen_options(["--push", url])
    saved_bundle.open_stream(options, "bundle")
    assert options["push"]["topic"] == topic


MQTT_URLS = ["mqtt://broker", "broker", "broker:1884", "mqtt://u@broker", "mqtt://u:p%40ss@broker:1/t/x",
             "mqtts://broker", "mqtts://u:p@broker:8884", "tcp://broker/a", "mqtt://broker/a/#",
             "mqtt://broker/a/+/b", "mqtt://broker:0", "mqtt://broker:99999", "mqtt://broker:x", "http://broker",
             "mqtt://", "mqtt:///t", " mqtt://broker/t ", "mqtt://[::1]:1884/t", "mqtt://u:@broker",
             "mqtt://broker/%20t"]


@pytest.mark.parametrize("url", MQTT_URLS)
def test_the_runtime_reads_broker_urls_as_earshot_does(url: str) -> None:
    from core.errors import PushError
    from core.push.settings import parse_mqtt_url
    from core.runtime.live import Missing, push_from_url

    try:
        expected: Any = parse_mqtt_url(url, topic="siot/p").__dict__
    except PushError:
        expected = "refused"
    try:
        got: Any = push_from_url(url, topic="siot/p")
    except Missing:
        got = "refused"
    assert got == expected
