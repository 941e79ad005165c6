"""End to end: `earshot listen MODEL --input recording.wav --push mqtt://...` against the real broker.

A small model learns classical and rock from some GTZAN tracks; the recording alternates tracks it never
heard, over real room noise. What arrives at the broker must be exactly what the listener
decided, in order, and close to the words spoken; a wrong password or an absent broker are reported
while listening goes on.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.audio import load, save_wav
from core.project import Project
from core.spec import BACKGROUND_NOISE, TrainSpec
from tests.conftest import REPO
from tests.fixtures.broker import Broker, Subscriber, free_port
from tests.fixtures.datasets import DatasetFile

pytestmark = [pytest.mark.hardware, pytest.mark.slow]

SR = 16000
GENRES = ("classical", "rock")
PER_TRACK = 6  # 1 s clips from each training track
TEST_TRACKS = 2  # per genre, never trained on
SEGMENT = 5.0  # seconds of each test track in the recording
ROOM = "background_noise/doing_the_dishes.wav"  # under the recording only, never trained on


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path,
              dataset_files: list[DatasetFile]) -> dict[str, object]:
    return make_listening(tmp_path_factory.mktemp("push-e2e") / "genres", datasets_dir, dataset_files)


def make_listening(root: Path, datasets_dir: Path, dataset_files: list[DatasetFile]) -> dict[str, object]:
    """A project trained on some GTZAN tracks, and a recording alternating unseen tracks of each genre."""
    from core.train import train

    project = Project.create(root, name="genres")
    noise = [f for f in dataset_files if f.dataset == "background_noise" and f.path.name != Path(ROOM).name]
    noise_clips = [y for f in noise for y in np.split(load(f.path, SR)[: 6 * SR], 6)]
    project.add_clips(project.get_class(BACKGROUND_NOISE), noise_clips[:30], prefix="noise")
    test: dict[str, list[Path]] = {}
    for genre in GENRES:
        tracks = sorted({f.group: f.path for f in dataset_files
                         if f.dataset == "gtzan5" and f.label == genre}.items())  # split by track
        clips = [clip for _, path in tracks[TEST_TRACKS:]
                 for clip in np.split(load(path, SR)[: PER_TRACK * SR], PER_TRACK)]
        project.add_clips(project.add_class(genre), clips, prefix=genre)
        test[genre] = [path for _, path in tracks[:TEST_TRACKS]]
    project.set_train_spec(TrainSpec(epochs=15, min_samples=20, seed=3))
    train(project)

    played = [p for pair in zip(test["classical"], test["rock"], strict=True) for p in pair]
    pieces = [load(path, SR)[10 * SR: int((10 + SEGMENT) * SR)] for path in played]
    track = np.concatenate(pieces)
    room = load(datasets_dir / ROOM, SR)[: track.size]
    track += room * (10 ** (-42 / 20) / float(np.sqrt(np.mean(room**2))))
    recording = save_wav(root.parent / "played.wav", track.astype(np.float32), SR)
    return {"root": root, "recording": recording, "expected": [p.parent.name for p in played]}


def listen(listening: dict[str, object], *push: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "earshot", "listen", str(listening["root"]),
               "--input", str(listening["recording"]), "--speed", "0", "--json", *push]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)


def decided(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def collapse(labels: list[str]) -> list[str]:
    return [x for i, x in enumerate(labels) if i == 0 or labels[i - 1] != x]


def test_pushed_labels_are_the_decisions_in_order(
    listening: dict[str, object], broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    subscriber = subscribe("siot/genres")
    result = listen(listening, "--push", broker.url("siot/genres"))
    labels = [str(d["label"]) for d in decided(result)]
    pushed = subscriber.wait_quiet(0.5)
    assert pushed == collapse(labels)  # on change, the default
    expected = listening["expected"]
    assert isinstance(expected, list)
    assert difflib.SequenceMatcher(a=expected, b=pushed).ratio() >= 0.75, (expected, pushed)
    assert f"push: connected to {broker.host}:{broker.port}, topic siot/genres" in result.stderr
    assert f"{len(pushed)} sent, 0 dropped" in result.stderr
    assert broker.password not in result.stderr
    saved = Project.open(Path(str(listening["root"]))).settings("push")
    assert (saved["topic"], saved["port"], saved["payload"]) == ("siot/genres", broker.port, "label")


def test_json_payload_for_every_decision(
    listening: dict[str, object], broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    subscriber = subscribe("siot/genres-json")
    result = listen(listening, "--push", broker.url("siot/genres-json"), "--payload", "json", "--every",
                    "--qos", "1")
    decisions = decided(result)
    pushed = [json.loads(p) for p in subscriber.wait_quiet(0.5)]
    assert len(decisions) >= 3
    assert [(m["label"], m["time"]) for m in pushed] == [(d["label"], d["time"]) for d in decisions]
    assert set(pushed[0]) == {"label", "confidence", "scores", "time"}
    assert set(pushed[0]["scores"]) == {BACKGROUND_NOISE, *GENRES}


def test_push_alone_reuses_the_saved_settings(
    listening: dict[str, object], broker: Broker, subscribe: Callable[[str], Subscriber]
) -> None:
    subscriber = subscribe("siot/saved")
    decided(listen(listening, "--push", broker.url("siot/saved")))
    first = subscriber.wait_quiet(0.5)
    result = listen(listening, "--push")
    assert len(decided(result)) >= 3
    assert subscriber.wait_quiet(0.5) == first + first
    assert "mqtt://siot:***@" in result.stderr


def test_wrong_password_is_reported_and_listening_goes_on(
    listening: dict[str, object], broker: Broker
) -> None:
    result = listen(listening, "--push", broker.url("siot/genres", password="wrong"))
    assert len(decided(result)) >= 3
    assert "push: not authorised: check the user name and password" in result.stderr
    assert "Traceback" not in result.stderr and "wrong" not in result.stderr
    assert " 0 sent" in result.stderr


def test_absent_broker_is_reported_and_listening_goes_on(listening: dict[str, object]) -> None:
    port = free_port()
    result = listen(listening, "--push", f"mqtt://siot:dfrobot@127.0.0.1:{port}/siot/genres")
    assert len(decided(result)) >= 3
    assert f"push: cannot reach 127.0.0.1:{port}" in result.stderr
    assert "push: retrying in" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_push_address_is_a_one_line_error(listening: dict[str, object]) -> None:
    result = listen(listening, "--push", "http://siot:secret@host/x")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("earshot: error: not an MQTT address")
    assert "secret" not in result.stderr
