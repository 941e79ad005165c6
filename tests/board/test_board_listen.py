"""The model listening on the "board" (a second user behind a real sshd): deploy, start, hear, push.

Words of speakers the model never heard are played into the PulseAudio virtual microphone; a real
mosquitto must receive the right labels in order, from the listener that `earshot deploy --service`
started on the board (systemd is not running here, so it is the background-process fallback), and
from `predict.py --listen` run in a fresh venv that has only the bundle's requirements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

from earshot.cli import main as earshot_main
from tests.board.words import SR, Track
from tests.fixtures.broker import Broker, Subscriber
from tests.fixtures.pulse import PulseMic
from tests.fixtures.sshd import SshBoard

pytestmark = [pytest.mark.slow, pytest.mark.hardware]


@pytest.fixture(scope="module")
def shared_pulse(pulse_mic: PulseMic) -> PulseMic:
    """The virtual microphone, reachable by the board user too (its socket is in root's temp folder)."""
    os.chmod(pulse_mic.runtime_dir, 0o755)
    return pulse_mic


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = earshot_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def hear(mic: PulseMic, track: Track, subscriber: Subscriber, timeout: float = 30.0) -> list[str]:
    mic.play(track.audio, SR)
    subscriber.wait_for(len(track.labels), timeout=timeout)
    return subscriber.wait_quiet(1.0)


def test_deploy_as_a_service_listens_on_the_board_and_pushes_the_labels(
        sshd_board: SshBoard, words_zip: Path, track: Track, shared_pulse: PulseMic, mosquitto: Broker,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = sshd_board.folder_on_board("words-")
    url = sshd_board.url(folder)
    ssh = ["-F", str(sshd_board.config)]
    push = ["--push", mosquitto.url("siot/board"), "--env", f"PULSE_SERVER={shared_pulse.server}"]
    with Subscriber(mosquitto, "siot/board", client_id="board-service") as subscriber:
        code, out, err = run(capsys, ["deploy", str(words_zip), url, "--install", "--service", *push, *ssh,
                                      "--json"])
        assert code == 0, err
        result = json.loads(out)
        assert result["missing"] == [] and result["python"] == f"{folder}/venv/bin/python"
        started = result["started"]
        assert started["mode"] == "process" and started["pid"]  # no systemd in this container
        assert "will not start again after a reboot" in started["note"]
        assert hear(shared_pulse, track, subscriber) == track.labels

    code, out, _ = run(capsys, ["deploy", "--status", url, *ssh, "--json"])
    status = json.loads(out)
    assert status["running"] and status["pid"] == started["pid"] and status["release"] == result["release"]
    assert status["labels"] == ["Background Noise", "yes", "no", "stop"]
    assert status["config"]["push"].startswith("mqtt://siot:***@127.0.0.1:")
    assert any("listening" in line for line in status["log"])

    # Re-deploying a changed model: the old listener runs until the new release is in place, then the new
    # one takes over, on the new files.
    changed = words_zip.parent / "words-2.zip"
    with zipfile.ZipFile(words_zip) as source, zipfile.ZipFile(changed, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data + b"\n" if name == "README.md" else data)
    with Subscriber(mosquitto, "siot/board", client_id="board-redeploy") as subscriber:
        code, out, err = run(capsys, ["deploy", str(changed), url, *push, *ssh, "--json"])
        assert code == 0, err
        again = json.loads(out)
        assert again["release"] != result["release"] and again["started"]["pid"] != started["pid"]
        assert not Path(f"/proc/{started['pid']}").exists()
        assert hear(shared_pulse, track, subscriber) == track.labels
    code, out, _ = run(capsys, ["deploy", "--stop", url, *ssh])
    assert code == 0 and out.startswith("stopped the listener")
    code, out, _ = run(capsys, ["deploy", "--status", url, *ssh, "--json"])
    assert json.loads(out)["running"] is False
    assert not Path(f"/proc/{again['started']['pid']}").exists()

    # A listener that cannot start (here: no sound server, so no microphone) is one line with its log.
    no_mic = ["--env", f"PULSE_SERVER=unix:{folder}/no-such-socket"]
    code, _, err = run(capsys, ["deploy", str(changed), url, "--service", *no_mic, *ssh, "--wait", "20"])
    assert code == 1
    line = next(line for line in err.splitlines() if line.startswith("earshot: error:"))
    assert "the listener on earshot-board stopped at once: predict.py: error: no microphone found" in line
    assert f"see {folder}/listen.log on the board" in line


@pytest.fixture(scope="module")
def bundle_venv(words_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python, unpacked bundle): a fresh venv with only the bundle's requirements.txt, from PyPI."""
    folder = tmp_path_factory.mktemp("bundle")
    with zipfile.ZipFile(words_zip) as archive:
        archive.extractall(folder)
    env_dir = tmp_path_factory.mktemp("bundle-venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                    str(folder / "requirements.txt")], check=True, timeout=900)
    return python, folder


@pytest.mark.parametrize("mic_rate", [None, 44100])
def test_predict_py_listens_in_a_fresh_venv_with_only_the_requirements(
        bundle_venv: tuple[Path, Path], track: Track, shared_pulse: PulseMic, mosquitto: Broker,
        tmp_path: Path, mic_rate: int | None) -> None:
    """Also with the microphone recording at 44.1 kHz, as USB microphones do (resampled on the fly)."""
    python, folder = bundle_venv
    rate = ["--mic-rate", str(mic_rate)] if mic_rate else []
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    log = tmp_path / "listen.log"
    subscribed = Subscriber(mosquitto, "siot/venv", client_id=f"bundle-venv-{mic_rate}")
    with subscribed as subscriber, open(log, "w") as handle:
        listener = subprocess.Popen(
            [str(python), str(folder / "predict.py"), "--listen", "--push", mosquitto.url("siot/venv"),
             "--stats", *rate], cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "predict.py: listening to" not in log.read_text():
                assert listener.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert hear(shared_pulse, track, subscriber) == track.labels
        finally:
            listener.terminate()
            listener.wait(timeout=20)
    text = log.read_text()
    assert listener.returncode == 0, text
    assert ("at 44100 Hz (resampled to 16000 Hz)" in text) == (mic_rate == 44100)
    printed = [line.split()[2] for line in text.splitlines() if line.strip().endswith("%") and " s  " in line]
    assert printed == track.labels
    stats = json.loads(next(line for line in text.splitlines() if line.startswith('{"stats"')))["stats"]
    assert stats["windows"] >= 4 * (track.seconds - 1)  # a window every 0.25 s
    assert f"push: stopped: {len(track.labels)} sent" in text


def test_an_embedding_model_listens_too(bundle_venv: tuple[Path, Path], speech_model_zip: Path,
                                        shared_pulse: PulseMic, mosquitto: Broker, tmp_path: Path) -> None:
    """The pretrained speech ear's bundle (its weight files and head.npz) runs live with the same venv."""
    from core.classifier import load_classifier
    from tests.board.words import word_track

    python = bundle_venv[0]
    folder = tmp_path / "speech"
    with zipfile.ZipFile(speech_model_zip) as archive:
        archive.extractall(folder)
    assert (folder / "head.npz").is_file() and (folder / "embedding_model.tflite").is_file()
    track = word_track(speech_model_zip, classifier=load_classifier(speech_model_zip))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    log = tmp_path / "listen.log"
    with Subscriber(mosquitto, "siot/speech", client_id="bundle-speech") as subscriber, open(log, "w") as out:
        listener = subprocess.Popen([str(python), str(folder / "predict.py"), "--listen", "--push",
                                     mosquitto.url("siot/speech"), "--stats"],
                                    cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "predict.py: listening to" not in log.read_text():
                assert listener.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert hear(shared_pulse, track, subscriber) == track.labels
        finally:
            listener.terminate()
            listener.wait(timeout=20)
    stats = json.loads(next(line for line in log.read_text().splitlines() if line.startswith('{"stats"')))
    assert stats["stats"]["windows"] >= 4 * (track.seconds - 1)  # every window scored, none dropped


@pytest.mark.parametrize(("hidden", "line"), [
    (("sounddevice",), "listening to a microphone needs the sounddevice package: python3 -m pip install "
                       "sounddevice"),
    (("ai_edge_litert", "tflite_runtime", "tensorflow"),
     "running the model needs the ai-edge-litert package: python3 -m pip install ai-edge-litert "
     "(tflite-runtime on Python 3.7/3.8)"),
    (("paho",), "--push needs the paho-mqtt package: python3 -m pip install paho-mqtt"),
])
def test_a_missing_package_is_named_in_one_line(words_zip: Path, tmp_path: Path, hidden: tuple[str, ...],
                                                line: str, shared_pulse: PulseMic) -> None:
    with zipfile.ZipFile(words_zip) as archive:
        archive.extractall(tmp_path / "bundle")
    (tmp_path / "site").mkdir()
    for name in hidden:
        (tmp_path / "site" / f"{name}.py").write_text(f"raise ImportError(\"No module named '{name}'\")\n")
    run_ = subprocess.run([sys.executable, str(tmp_path / "bundle" / "predict.py"), "--listen", "--push",
                           "mqtt://127.0.0.1:1/t", "--seconds", "1"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert run_.returncode == 1
    assert run_.stderr.strip().splitlines()[-1].startswith(f"predict.py: error: {line}"), run_.stderr
