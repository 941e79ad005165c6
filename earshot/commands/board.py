"""`earshot deploy`: run an exported model on a Linux board (Raspberry Pi, UNIHIKER) over SSH."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import DeployError
from earshot.commands import argtypes

EPILOG = """examples:
  earshot deploy words ssh://pi@raspberrypi.local --push mqtt://siot:dfrobot@192.168.1.20/siot/words --service
  earshot deploy words-model.zip ssh://root@10.1.2.3 --install --service     (a UNIHIKER over USB)
  earshot deploy --status ssh://pi@raspberrypi.local
  earshot deploy --stop ssh://pi@raspberrypi.local

ssh runs with your own keys, agent and ~/.ssh/config and never asks for a password: set up a key once
with ssh-copy-id USER@HOST. The board folder (default ~/earshot) keeps the last two models; 'current'
points at the one in use."""


def register(subparsers: argparse._SubParsersAction) -> None:
    deploy = subparsers.add_parser(
        "deploy", help="copy the model to a Linux board over SSH and run it there (listen, push results)",
        description="Copy an exported model to a Linux board over SSH, check every file by SHA-256 on the "
                    "board, check its Python and packages, and with --service start it listening (a "
                    "systemd unit, or a background process where systemd does not run).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="earshot deploy [options] DIR|MODEL.zip ssh://[user@]host[:port][/path]\n"
              "       earshot deploy --status|--stop ssh://[user@]host[:port][/path]")
    deploy.add_argument("places", nargs="+", metavar="PLACE",
                        help="the project folder or export zip, then the board (a relative path is in "
                             "the user's home; default ~/earshot). --status and --stop take the board only")
    action = deploy.add_mutually_exclusive_group()
    action.add_argument("--status", action="store_true", help="report what runs on the board")
    action.add_argument("--stop", action="store_true", help="stop the listener on the board")
    deploy.add_argument("--service", action="store_true",
                        help="start listening now and at every boot (systemd; else a background process)")
    deploy.add_argument("--install", action="store_true",
                        help="pip install what the board lacks into a venv in the board folder "
                             "(needs internet on the board)")
    deploy.add_argument("--python", metavar="PATH", help="Python on the board (default: the folder's venv, "
                                                         "else python3)")
    listen = deploy.add_argument_group("listening on the board (as 'earshot listen')")
    listen.add_argument("--threshold", type=argtypes.THRESHOLD,
                        help="smallest confidence reported (default: the model's saved validation threshold, "
                             "else 0.5)")
    listen.add_argument("--smooth", type=argtypes.SMOOTH_WINDOWS,
                        help="windows averaged (default: the model's saved validation setting, else 3)")
    listen.add_argument("--hop", type=argtypes.HOP_SECONDS, help="seconds between windows (default: 0.25)")
    listen.add_argument("--background", action="store_true", help="also report Background Noise")
    listen.add_argument("--device", help="the board's microphone, by number or name (default: its default)")
    listen.add_argument("--stats", action="store_true",
                        help="log window-to-decision latency and CPU use when the listener stops")
    listen.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the listener, e.g. PULSE_SERVER=... (repeatable)")
    from earshot.commands.push_options import add_push_arguments

    add_push_arguments(deploy)
    ssh = deploy.add_argument_group("ssh")
    ssh.add_argument("-i", "--identity", type=Path, metavar="KEY", help="private key file (ssh -i)")
    ssh.add_argument("-F", "--ssh-config", type=Path, metavar="FILE", help="ssh configuration file (ssh -F)")
    ssh.add_argument("-o", "--ssh-option", action="append", default=[], metavar="OPTION",
                     help="ssh option, e.g. -o ProxyJump=gateway (repeatable)")
    ssh.add_argument("--timeout", type=argtypes.SSH_TIMEOUT, default=10,
                     help="seconds to wait for the board to answer (default: 10)")
    deploy.add_argument("--wait", type=argtypes.WAIT_SECONDS, default=30.0,
                        help="seconds to wait for the listener to start (default: 30)")
    deploy.add_argument("--json", action="store_true", help="print the result as one JSON object")
    deploy.set_defaults(func=run_deploy)


def _status(message: str) -> None:
    print(f"earshot: {message}", file=sys.stderr, flush=True)


def _parse_places(args: argparse.Namespace) -> tuple[Path | None, str]:
    places = list(args.places)
    if args.status or args.stop:
        if len(places) != 1:
            raise DeployError("--status and --stop take only the board", "e.g. earshot deploy --status "
                                                                         "ssh://pi@raspberrypi.local")
        return None, places[0]
    if len(places) != 2:
        raise DeployError("deploy needs the model and the board",
                          "e.g. earshot deploy words-model.zip ssh://pi@raspberrypi.local")
    return Path(places[0]), places[1]


def _listen_options(args: argparse.Namespace, model: Path | None) -> Any:
    from core.deploy.linux_service import ListenOptions

    env: dict[str, str] = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise DeployError(f"--env {item!r} is not NAME=VALUE", "e.g. --env PULSE_SERVER=unix:/run/pulse")
        env[name] = value
    push = None
    if args.push is not None:
        from earshot.commands.push_options import _project_of, push_settings_from_args

        project = _project_of(argparse.Namespace(model=model))
        name = project.name if project is not None else (model.stem.removesuffix("-model") if model else "")
        settings = push_settings_from_args(args, name or "earshot", project)
        if settings.ca_file:
            raise DeployError("--ca-file is not supported for a board yet",
                              "copy the CA certificate into the board's trust store, then use mqtts:// alone")
        push = settings.to_dict()
    return ListenOptions(push=push, threshold=args.threshold, smooth=args.smooth, hop=args.hop,
                         device=args.device, background=args.background, stats=args.stats, env=env)


def run_deploy(args: argparse.Namespace) -> int:
    from core.deploy.linux_deploy import deploy_to_board, status_on_board, stop_on_board
    from core.deploy.linux_ssh import SshOptions, SshTarget

    model, place = _parse_places(args)
    target = SshTarget.parse(place)
    ssh = SshOptions(config=args.ssh_config, identity=args.identity, options=tuple(args.ssh_option),
                     connect_timeout=args.timeout)
    if args.status:
        return _print_status(status_on_board(target, ssh), args.json)
    if args.stop:
        stopped = stop_on_board(target, ssh)
        if args.json:
            print(json.dumps(stopped))
        else:
            print(f"stopped the listener on {target}" if stopped["stopped"]
                  else f"nothing was running on {target}")
        return 0
    assert model is not None
    listen = _listen_options(args, model)
    result = deploy_to_board(model, target, ssh=ssh, listen=listen, service=args.service,
                             install=args.install, python=args.python, wait=args.wait,
                             on_status=None if args.json else _status)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    what = "already there" if result.unchanged else f"{len(result.copied)} files copied and verified"
    print(f"deployed {Path(result.model).name} to {result.target} ({what}; release {result.release}, "
          f"Python {result.python_version})")
    if result.missing:
        print(f"  the board lacks {', '.join(result.missing)}: on the board run: {result.pip_line}")
        print("  (or deploy again with --install)")
    started = result.started
    if started is not None:
        how = (f"systemd {'user ' if started.mode == 'user' else ''}unit {started.unit}"
               if started.unit else f"background process {started.pid}")
        print(f"  listening on the board as {how}")
    elif not result.missing:
        print(f"  start it with --service, or on the board: {result.run_line}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def _print_status(status: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(status))
        return 0
    if not status.get("deployed"):
        print(f"nothing deployed at {status['target']}")
        return 0
    state = "listening" if status["running"] else "not running"
    how = status.get("unit") or (f"pid {status['pid']}" if status["running"] and status.get("pid")
                                 else status.get("mode") or "never started")
    uptime = f" for {status['seconds']} s" if status.get("seconds") is not None else ""
    print(f"{status['target']}: {state}{uptime} ({how}); release {status.get('release')}")
    print(f"  labels: {', '.join(status.get('labels', []))}")
    if status.get("config", {}).get("push"):
        print(f"  pushing to {status['config']['push']}")
    for line in status.get("log", [])[-5:]:
        print(f"  | {line}")
    return 0
