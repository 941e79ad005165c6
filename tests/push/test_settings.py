"""Push settings: URLs, SIoT defaults, validation, saving in the project, and the password kept hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import PushError
from core.project import Project
from core.push import PushSettings, default_topic, load_push_settings, redact_url, save_push_settings


def test_url_with_everything() -> None:
    settings = PushSettings.from_url("mqtt://alice:s3cret@broker.lab:1884/lab/genre")
    assert (settings.host, settings.port, settings.username, settings.password, settings.topic) == (
        "broker.lab", 1884, "alice", "s3cret", "lab/genre"
    )
    assert not settings.tls


def test_url_defaults_are_siot() -> None:
    settings = PushSettings.from_url("mqtt://192.168.1.20", topic=default_topic("My Genres!"))
    assert (settings.port, settings.username, settings.password) == (1883, "siot", "dfrobot")
    assert settings.topic == "siot/My-Genres"
    assert (settings.qos, settings.payload, settings.on_change) == (0, "label", True)
    assert settings.min_interval == 0.0


def test_mqtts_uses_8883_and_tls() -> None:
    settings = PushSettings.from_url("mqtts://u:p@example.org/a/b")
    assert settings.tls and settings.port == 8883
    assert settings.display_url == "mqtts://u:***@example.org:8883/a/b"


def test_escaped_characters_in_credentials_round_trip() -> None:
    settings = PushSettings.from_url("mqtt://us%40er:p%3Aw%2Fd%40@h:1883/t")
    assert (settings.username, settings.password) == ("us@er", "p:w/d@")
    assert PushSettings.from_url(settings.url()) == settings


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://h/t", "not an MQTT address"),
        ("mqtt://h:0/t", "bad port"),
        ("mqtt://:1883/t", "no broker host"),
        ("mqtt://h:99999/t", "bad port"),
        ("mqtt://h:abc/t", "bad port"),
        ("mqtt://h/siot/#", "bad topic"),
        ("mqtt://h/a/+/b", "bad topic"),
    ],
)
def test_bad_urls_give_one_line_errors(url: str, words: str) -> None:
    with pytest.raises(PushError) as caught:
        PushSettings.from_url(url)
    assert words in caught.value.message
    assert caught.value.hint and "\n" not in str(caught.value)


def test_bad_options_are_refused() -> None:
    with pytest.raises(PushError, match="QoS"):
        PushSettings(qos=2)
    with pytest.raises(PushError, match="payload"):
        PushSettings(payload="xml")  # type: ignore[arg-type]
    with pytest.raises(PushError, match="interval"):
        PushSettings(min_interval=-1)
    with pytest.raises(PushError, match="TLS"):
        PushSettings(ca_file="/etc/ssl/ca.pem")


def test_password_never_shown() -> None:
    settings = PushSettings.from_url("mqtt://siot:TopSecret9@h:1883/siot/x")
    for text in (repr(settings), str(settings), settings.display_url, json.dumps(settings.redacted())):
        assert "TopSecret9" not in text
    assert "***" in settings.display_url
    assert redact_url("mqtt://siot:TopSecret9@h/x") == "mqtt://siot:***@h/x"
    with pytest.raises(PushError) as caught:
        PushSettings.from_url("mqtt://siot:TopSecret9@h:70000/x")
    assert "TopSecret9" not in str(caught.value)


def test_settings_saved_in_the_project(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "genres")
    assert load_push_settings(project) is None
    settings = PushSettings.from_url("mqtt://siot:dfrobot@10.0.0.5/siot/genres", qos=1, payload="json",
                                     on_change=False, min_interval=0.5)
    save_push_settings(project, settings)
    assert load_push_settings(Project.open(tmp_path / "genres")) == settings


def test_damaged_saved_settings_give_an_error(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.set_settings("push", {"host": "h", "port": "not a number"})
    with pytest.raises(PushError, match="damaged"):
        load_push_settings(project)


def test_listen_push_and_flash_mqtt_read_a_url_the_same_way(tmp_path: Path) -> None:
    """One parser, one default topic: the board subscribes where `listen --push` publishes."""
    import argparse
    import json
    import zipfile

    from core.push import default_topic
    from earshot.commands.deploy import board_config
    from earshot.commands.push_options import add_push_arguments, push_settings_from_args

    model = tmp_path / "m.zip"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"project": "My Words"}))
    for url in ("mqtt://lab-pc", "lab-pc:1884", "mqtt://me:pw@lab-pc/room/2", "mqtt://lab-pc:1883/"):
        parser = argparse.ArgumentParser()
        parser.add_argument("model")
        add_push_arguments(parser)
        pushed = push_settings_from_args(parser.parse_args(["m", "--push", url]), "My Words")
        flash = argparse.Namespace(mqtt=url, remote_dir="/", wifi_ssid="", wifi_password="")
        board = board_config(flash, model)
        assert (board.broker, board.port, board.user, board.password, board.topic) == (
            pushed.host, pushed.port, pushed.username, pushed.password, pushed.topic), url
    assert board_config(argparse.Namespace(mqtt="mqtt://h", remote_dir="/", wifi_ssid="", wifi_password=""),
                        model).topic == default_topic("My Words") == "siot/My-Words"
