"""The --push options: parsing, how they combine with the URL and saved settings, and status lines."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from core.errors import PushError
from core.project import Project
from core.push import PushSettings, PushStatus, save_push_settings
from earshot.commands.push_options import (
    StatusReporter,
    add_push_arguments,
    push_settings_from_args,
    start_push,
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    add_push_arguments(parser)
    return parser.parse_args(["m", *argv])


def test_no_push_means_no_publisher() -> None:
    assert start_push(parse(), "genres", print) is None


def test_url_and_options() -> None:
    args = parse("--push", "mqtt://u:p@h:1884/lab/x", "--payload", "json", "--qos", "1", "--every",
                 "--min-interval", "0.5")
    settings = push_settings_from_args(args, "genres")
    assert settings == PushSettings(host="h", port=1884, username="u", password="p", topic="lab/x", qos=1,
                                    payload="json", on_change=False, min_interval=0.5)


def test_url_without_topic_uses_the_project_name() -> None:
    settings = push_settings_from_args(parse("--push", "mqtt://10.1.2.3"), "My Genres")
    assert (settings.host, settings.topic, settings.username, settings.password) == (
        "10.1.2.3", "siot/My-Genres", "siot", "dfrobot")


def test_push_alone_uses_saved_settings_else_siot_defaults(tmp_path: Path) -> None:
    assert push_settings_from_args(parse("--push"), "genres") == PushSettings(topic="siot/genres")
    project = Project.create(tmp_path / "p")
    save_push_settings(project, PushSettings(host="lab-pc", topic="class/room", payload="json"))
    settings = push_settings_from_args(parse("--push", "--qos", "1"), "p", project)
    assert (settings.host, settings.topic) == ("lab-pc", "class/room")
    assert (settings.payload, settings.qos) == ("json", 1)


def test_on_change_and_every_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--push", "--on-change", "--every")
    assert "not allowed with" in capsys.readouterr().err
    assert push_settings_from_args(parse("--push", "--on-change"), "p").on_change is True


def test_ca_file_needs_mqtts() -> None:
    with pytest.raises(PushError, match="only used with TLS"):
        push_settings_from_args(parse("--push", "mqtt://h/t", "--ca-file", "ca.pem"), "p")
    settings = push_settings_from_args(parse("--push", "mqtts://h/t", "--ca-file", "ca.pem"), "p")
    assert settings.tls and settings.port == 8883 and settings.ca_file == "ca.pem"


def test_status_lines_leave_out_repeats_while_unreachable() -> None:
    lines: list[str] = []
    report = StatusReporter(lines.append)
    events = [
        PushStatus("connecting", "connecting to h:1883 as siot"),
        PushStatus("unreachable", "cannot reach h:1883"),
        PushStatus("retrying", "retrying in 3 s", 3.0),
        PushStatus("connecting", "connecting to h:1883 as siot"),
        PushStatus("unreachable", "cannot reach h:1883"),
        PushStatus("retrying", "retrying in 4 s", 4.0),
        PushStatus("connecting", "connecting to h:1883 as siot"),
        PushStatus("unreachable", "cannot reach h:1883"),
        PushStatus("retrying", "retrying in 8 s", 8.0),
        PushStatus("connecting", "connecting to h:1883 as siot"),
        PushStatus("unreachable", "cannot reach h:1883"),
        PushStatus("retrying", "retrying in 8 s", 8.0),
        PushStatus("connecting", "connecting to h:1883 as siot"),
        PushStatus("connected", "connected to h:1883, topic t"),
        PushStatus("lost", "connection to h:1883 lost (Unspecified error)"),
        PushStatus("retrying", "retrying in 1 s", 1.0),
        PushStatus("connecting", "connecting to h:1883 as siot"),
        PushStatus("connected", "connected to h:1883, topic t"),
    ]
    for event in events:
        report(event)
    assert lines == [
        "connecting to h:1883 as siot",
        "cannot reach h:1883",
        "retrying in 3 s",
        "retrying in 4 s",
        "retrying in 8 s",
        "connected to h:1883, topic t",
        "connection to h:1883 lost (Unspecified error)",
        "retrying in 1 s",
        "connected to h:1883, topic t",
    ]
