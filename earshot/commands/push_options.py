"""The `--push` options shared by commands that produce live decisions (`earshot listen`).

`add_push_arguments(parser)` adds the options; `start_push(args, project_name, report)` returns a
started publisher (or None without --push) and reports its connection status through `report`;
`stop_push(publisher, report)` stops it and reports what was sent and dropped.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earshot.commands import argtypes

SAVED = "saved"  # `--push` without a URL: the project's saved settings, else SIoT's defaults
FIRST_CONNECT_SECONDS = 3.0

Report = Callable[[str], None]


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --push URL, --payload, --qos, --on-change/--every, --min-interval and --ca-file."""
    group = parser.add_argument_group("push results to an MQTT broker (e.g. DFRobot SIoT)")
    group.add_argument(
        "--push", nargs="?", const=SAVED, metavar="URL",
        help="publish decisions to mqtt://user:password@host:port/topic (mqtts:// for TLS, port 8883); "
             "--push alone uses the project's saved push settings, else "
             "mqtt://siot:dfrobot@localhost:1883/siot/<project name>",
    )
    group.add_argument("--payload", choices=("label", "json"),
                       help="message: the bare label (default) or JSON with label, confidence, scores, time")
    group.add_argument("--qos", type=int, choices=(0, 1), help="MQTT quality of service (default: 0)")
    when = group.add_mutually_exclusive_group()
    when.add_argument("--on-change", dest="push_every", action="store_false", default=None,
                      help="publish only when the label changes (default)")
    when.add_argument("--every", dest="push_every", action="store_true",
                      help="publish every decision, even a repeated label")
    group.add_argument("--min-interval", type=argtypes.MIN_INTERVAL, metavar="SECONDS",
                       help="at least this long between messages (default: 0)")
    group.add_argument("--ca-file", metavar="FILE", help="CA certificate for mqtts:// brokers")


def push_settings_from_args(args: argparse.Namespace, project_name: str, project: Any = None) -> Any:
    """PushSettings for the parsed options: the URL (or saved settings) with the options applied."""
    from core.push import PushSettings, default_topic, load_push_settings

    topic = default_topic(project_name)
    if args.push == SAVED:
        settings = (load_push_settings(project) if project is not None else None) or PushSettings(topic=topic)
    else:
        settings = PushSettings.from_url(args.push, topic=topic)
    changes: dict[str, Any] = {}
    if getattr(args, "payload", None) is not None:
        changes["payload"] = args.payload
    if getattr(args, "qos", None) is not None:
        changes["qos"] = args.qos
    if getattr(args, "push_every", None) is not None:
        changes["on_change"] = not args.push_every
    if getattr(args, "min_interval", None) is not None:
        changes["min_interval"] = args.min_interval
    if getattr(args, "ca_file", None) is not None:
        changes["ca_file"] = str(Path(args.ca_file).expanduser())
    return settings.with_options(**changes) if changes else settings


def start_push(args: argparse.Namespace, project_name: str, report: Report, *, project: Any = None) -> Any:
    """A started MqttPublisher for --push (None without it); connection status lines go to `report`.

    Bad settings raise PushError before anything starts; an unreachable broker or wrong password are
    only reported, and the publisher keeps retrying while listening goes on. When `project` (or the
    project folder given as `args.model`) is known, the settings are saved as its push settings.
    """
    if getattr(args, "push", None) is None:
        return None
    from core.push import MqttPublisher

    project = project if project is not None else _project_of(args)
    settings = push_settings_from_args(args, project_name, project)
    if project is not None and (args.push != SAVED or _options_given(args)):
        _save(project, settings, report)
    when = "on every decision" if not settings.on_change else "when the label changes"
    limit = f", at most one message per {settings.min_interval:g} s" if settings.min_interval else ""
    what = "labels" if settings.payload == "label" else "JSON results"
    report(f"publishing {what} to {settings.display_url} (QoS {settings.qos}) {when}{limit}")
    publisher = MqttPublisher(settings, on_status=StatusReporter(report)).start()
    publisher.wait_attempt(FIRST_CONNECT_SECONDS)
    return publisher


def stop_push(publisher: Any, report: Report) -> Any:
    """Stop the publisher (if any); its final counts are reported by its "stopped" status."""
    if publisher is None:
        return None
    return publisher.stop()


class StatusReporter:
    """Turns PushStatus events into lines, leaving out repeats while the broker stays unreachable."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.last_problem: str | None = None
        self.last_retry: float | None = None
        self.connected_once = False

    def __call__(self, status: Any) -> None:
        state = status.state
        if state == "connecting":
            if self.last_problem is None and not self.connected_once:
                self.report(status.message)
            return
        if state in ("refused", "unreachable"):
            if status.message == self.last_problem:
                return
            self.last_problem = status.message
        elif state == "retrying":
            if status.retry_in == self.last_retry:
                return
            self.last_retry = status.retry_in
        elif state in ("connected", "lost"):
            self.last_problem, self.last_retry = None, None
            self.connected_once = True
        self.report(status.message)


def _options_given(args: argparse.Namespace) -> bool:
    names = ("payload", "qos", "push_every", "min_interval", "ca_file")
    return any(getattr(args, name, None) is not None for name in names)


def _project_of(args: argparse.Namespace) -> Any:
    """The project when the command was given a project folder, else None."""
    from core.project import PROJECT_FILE, Project

    folder = getattr(args, "model", None) or getattr(args, "dir", None)
    if folder is None or not (Path(folder) / PROJECT_FILE).is_file():
        return None
    try:
        return Project.open(Path(folder))
    except Exception:  # noqa: BLE001 (the listening command reports project problems itself)
        return None


def _save(project: Any, settings: Any, report: Report) -> None:
    from core.errors import EarshotError
    from core.push import save_push_settings

    try:
        save_push_settings(project, settings)
    except (EarshotError, OSError) as error:
        report(f"settings not saved in the project ({error}); publishing anyway")
