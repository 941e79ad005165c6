"""The listener on a Linux board: start it as a systemd unit (or a background process), report, stop.

The listener is `predict.py --listen --config <folder>/listen.json` from the folder's `current`
release, writing to `<folder>/listen.log`. Where systemd runs it is a unit: a system unit when the
SSH user is root, else a user unit (`systemctl --user`, with lingering so it starts at boot). Where
it does not (containers, minimal images, or no user manager reachable over SSH) the listener runs in
the background with a pid file, and does not come back after a reboot. `<folder>/listener` records
which one was started, so `status` and `stop` need no options.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.deploy.linux import BoardInfo
from core.deploy.linux_ssh import SshSession
from core.errors import DeployError

Mode = Literal["system", "user", "process"]
STARTED_MARKER = "listening"  # predict.py --listen prints it once the microphone is open
LOG_LINES = 8

# Resolves the folder like the probe does; every script below starts with it.
SH_FOLDER = 'dir=$1; case "$dir" in /*) ;; *) dir="$HOME/$dir";; esac\n'

# Stops whatever the folder's listener file says is running (the process or the unit).
SH_STOP = SH_FOLDER + r"""
mode=; unit=; pid=
[ -f "$dir/listener" ] && . "$dir/listener"
stopped=0
case "$mode" in
  user) systemctl --user disable --now "$unit" >/dev/null 2>&1 && stopped=1 ;;
  system) systemctl disable --now "$unit" >/dev/null 2>&1 && stopped=1 ;;
  process)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
       && grep -q predict.py "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid"; n=0
      while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
      kill -9 "$pid" 2>/dev/null; stopped=1
    fi ;;
esac
[ -f "$dir/listener" ] && printf 'mode=%s\nunit=%s\npid=\nstate=stopped\n' "$mode" "$unit" > "$dir/listener"
echo "stopped=$stopped"; echo "mode=$mode"
"""

# $2 python, $3.. NAME=VALUE environment: the listener as a background process.
SH_START_PROCESS = SH_FOLDER + r"""
py=$2; shift 2
[ -f "$dir/listen.log" ] && mv -f "$dir/listen.log" "$dir/listen.log.1"
cd "$dir/current" || exit 1
run=nohup; command -v setsid >/dev/null 2>&1 && run="nohup setsid"
$run env PYTHONUNBUFFERED=1 "$@" "$py" "$dir/current/predict.py" --listen --config "$dir/listen.json" \
  > "$dir/listen.log" 2>&1 < /dev/null &
pid=$!
printf 'mode=process\nunit=\npid=%s\nstate=started\n' "$pid" > "$dir/listener"
echo "pid=$pid"
"""

# $2 mode (user|system), $3 unit name, unit text on stdin.
SH_START_UNIT = SH_FOLDER + r"""
mode=$2; unit=$3
if [ "$mode" = user ]; then
  units="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"; ctl="systemctl --user"
else
  units=/etc/systemd/system; ctl=systemctl
fi
mkdir -p "$units" && umask 077 && cat > "$units/$unit.new" \
  && mv -f "$units/$unit.new" "$units/$unit" || exit 1
[ -f "$dir/listen.log" ] && mv -f "$dir/listen.log" "$dir/listen.log.1"
$ctl daemon-reload && $ctl enable "$unit" >/dev/null 2>&1 && $ctl restart "$unit" || exit 1
printf 'mode=%s\nunit=%s\npid=\nstate=started\n' "$mode" "$unit" > "$dir/listener"
if [ "$mode" = user ]; then
  if loginctl enable-linger "$(id -un)" >/dev/null 2>&1; then echo "linger=1"; else echo "linger=0"; fi
fi
"""

# $2 seconds to wait: until the log says it listens, or the listener died.
SH_WAIT = SH_FOLDER + r"""
limit=$(($2 * 10)); mode=; unit=; pid=
. "$dir/listener"
alive() {
  case "$mode" in
    process) kill -0 "$pid" 2>/dev/null ;;
    user) [ "$(systemctl --user is-active "$unit" 2>/dev/null)" = active ] ;;
    system) [ "$(systemctl is-active "$unit" 2>/dev/null)" = active ] ;;
  esac
}
n=0; state=slow
while [ $n -lt $limit ]; do
  if grep -q "STARTED_MARKER" "$dir/listen.log" 2>/dev/null; then state=listening; break; fi
  if ! alive; then
    sleep 0.3; grep -q "STARTED_MARKER" "$dir/listen.log" 2>/dev/null || { state=dead; break; }
  fi
  sleep 0.1; n=$((n+1))
done
echo "state=$state"
echo "--- log"
tail -n LOG_LINES "$dir/listen.log" 2>/dev/null
if [ "$state" = dead ] && [ "$mode" != process ]; then
  echo "--- journal"
  if [ "$mode" = user ]; then journalctl --user -u "$unit" -n 5 --no-pager -q 2>/dev/null
  else journalctl -u "$unit" -n 5 --no-pager -q 2>/dev/null; fi
fi
exit 0
""".replace("STARTED_MARKER", STARTED_MARKER).replace("LOG_LINES", str(LOG_LINES))

SH_STATUS = SH_FOLDER + r"""
mode=; unit=; pid=; state=
[ -d "$dir" ] || { echo "deployed=0"; exit 0; }
echo "deployed=1"; echo "dir=$dir"
[ -f "$dir/listener" ] && . "$dir/listener"
echo "mode=$mode"; echo "unit=$unit"
echo "release=$(readlink "$dir/current" 2>/dev/null | sed 's#.*/##')"
running=0
case "$mode" in
  process) if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
             && grep -q predict.py "/proc/$pid/cmdline" 2>/dev/null; then running=1; fi ;;
  user) [ "$(systemctl --user is-active "$unit" 2>/dev/null)" = active ] && running=1
        pid=$(systemctl --user show -p MainPID --value "$unit" 2>/dev/null) ;;
  system) [ "$(systemctl is-active "$unit" 2>/dev/null)" = active ] && running=1
          pid=$(systemctl show -p MainPID --value "$unit" 2>/dev/null) ;;
esac
echo "running=$running"; echo "pid=$pid"
[ "$running" = 1 ] && echo "seconds=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')"
echo "labels=$(tr '\n' '|' < "$dir/current/labels.txt" 2>/dev/null)"
echo "--- config"
cat "$dir/listen.json" 2>/dev/null; echo
echo "--- log"
tail -n LOG_LINES "$dir/listen.log" 2>/dev/null
exit 0
""".replace("LOG_LINES", str(LOG_LINES))


@dataclass(frozen=True)
class ListenOptions:
    """How predict.py --listen runs on the board (saved as listen.json there)."""

    push: dict[str, Any] | None = None  # core.push.PushSettings.to_dict(), password included
    threshold: float | None = None
    smooth: int | None = None
    hop: float | None = None
    device: str | None = None
    background: bool = False
    stats: bool = False  # log latency and CPU use when the listener stops
    env: dict[str, str] = field(default_factory=dict)

    def config(self) -> bytes:
        values = {k: v for k, v in asdict(self).items() if k != "env" and v not in (None, False)}
        return (json.dumps(values, indent=2) + "\n").encode()


def unit_name(folder: str, home: str) -> str:
    """`earshot.service` for the default folder, `earshot-<folder>.service` for others."""
    relative = folder[len(home) + 1:] if home and folder.startswith(home + "/") else folder
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", relative).strip("-.")
    return "earshot.service" if slug in ("", "earshot") else f"earshot-{slug}.service"


def _quoted(word: str) -> str:
    """One argument of a systemd command line or Environment= (quoted when it has spaces)."""
    if not any(c in word for c in ' "\\'):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(info: BoardInfo, mode: Mode, python: str, options: ListenOptions) -> str:
    folder = info.folder
    env = [f"Environment={_quoted(f'{k}={v}')}" for k, v in sorted(options.env.items())]
    command = [python, f"{folder}/current/predict.py", "--listen", "--config", f"{folder}/listen.json"]
    return "\n".join([
        "[Unit]",
        f"Description=earshot: listen with the model in {folder} and report its labels",
        "After=network-online.target sound.target", "Wants=network-online.target", "",
        "[Service]", "Type=simple", f"WorkingDirectory={folder}/current",
        "ExecStart=" + " ".join(_quoted(word) for word in command),
        "Environment=PYTHONUNBUFFERED=1", *env,
        f"StandardOutput=append:{folder}/listen.log", "StandardError=inherit",
        "Restart=on-failure", "RestartSec=3", "",
        "[Install]", f"WantedBy={'default.target' if mode == 'user' else 'multi-user.target'}", ""])


def choose_mode(info: BoardInfo) -> tuple[Mode, str]:
    """(mode, note for the user): systemd where it can be used, else a background process."""
    if info.systemd and info.uid == 0:
        return "system", ""
    if info.systemd and info.user_systemd:
        return "user", ""
    if info.systemd:
        return "process", (f"systemd --user is not reachable over SSH for {info.user}, so the listener runs "
                           f"as a background process and will not start at boot (on the board: sudo loginctl "
                           f"enable-linger {info.user}, then deploy again)")
    return "process", ("the board does not run systemd, so the listener runs as a background process "
                       "and will not start again after a reboot")


@dataclass
class Started:
    mode: Mode
    unit: str | None
    pid: int | None
    note: str
    log: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sections(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    values: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("--- "):
            current = sections.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
        elif "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values, sections


def start_listener(session: SshSession, info: BoardInfo, python: str, options: ListenOptions, *,
                   wait: float = 30.0) -> Started:
    """(Re)start the listener on the current release and wait until it listens; raise if it dies."""
    mode, note = choose_mode(info)
    folder = info.folder
    session.run(SH_STOP, folder, check=False)
    unit = None
    if mode == "process":
        env = [f"{k}={v}" for k, v in sorted(options.env.items())]
        session.run(SH_START_PROCESS, folder, python, *env)
    else:
        unit = unit_name(folder, info.home)
        started = session.run(SH_START_UNIT, folder, mode, unit,
                              stdin=unit_text(info, mode, python, options).encode(), check=False)
        if started.code != 0:
            raise DeployError(f"systemd did not start {unit} on {session.target.host}: "
                              f"{(started.stderr.strip().splitlines() or ['no message'])[-1]}",
                              f"on the board: systemctl {'--user ' if mode == 'user' else ''}status {unit}")
        if mode == "user" and "linger=0" in started.text:
            note = (f"it starts at boot only once {info.user} has logged in (on the board: "
                    f"sudo loginctl enable-linger {info.user})")
    values, sections = _sections(session.run(SH_WAIT, folder, str(max(1, int(round(wait)))),
                                               timeout=wait + 30).text)
    log = [line for line in sections.get("log", []) if line.strip()]
    journal = [line for line in sections.get("journal", []) if line.strip()]
    if values.get("state") == "dead":
        last = (log + journal)[-3:] or ["no output"]
        raise DeployError(f"the listener on {session.target.host} stopped at once: {' | '.join(last)}",
                          f"see {folder}/listen.log on the board" if mode == "process"
                          else f"on the board: journalctl {'--user ' if mode == 'user' else ''}-u {unit}")
    if values.get("state") != "listening":
        note = "; ".join(filter(None, [note, f"it has not said it is listening after {wait:.0f} s "
                                             f"(see {folder}/listen.log)"]))
    pid = values.get("pid")
    status = board_status(session)
    return Started(mode, unit, int(status["pid"]) if status.get("pid") else (int(pid) if pid else None),
                   note, log)


def stop_listener(session: SshSession) -> dict[str, Any]:
    """Stop the listener of the target folder; `{"stopped": bool, "mode": ...}`."""
    values, _ = _sections(session.run(SH_STOP, session.target.path).text)
    return {"stopped": values.get("stopped") == "1", "mode": values.get("mode") or None}


def board_status(session: SshSession) -> dict[str, Any]:
    """What runs in the target folder: mode, running, pid, uptime, release, labels, push, last log lines."""
    values, sections = _sections(session.run(SH_STATUS, session.target.path).text)
    if values.get("deployed") != "1":
        return {"deployed": False, "folder": session.target.path}
    try:
        config = json.loads("\n".join(sections.get("config", [])) or "{}")
    except ValueError:
        config = {}
    if isinstance(config.get("push"), dict):
        config["push"] = _display_push(config["push"])
    seconds = values.get("seconds", "")
    return {"deployed": True, "folder": values.get("dir"), "mode": values.get("mode") or None,
            "unit": values.get("unit") or None, "running": values.get("running") == "1",
            "pid": int(values["pid"]) if values.get("pid", "").isdigit() and values["pid"] != "0" else None,
            "seconds": int(seconds) if seconds.isdigit() else None, "release": values.get("release") or None,
            "labels": [x for x in values.get("labels", "").split("|") if x], "config": config,
            "log": [line for line in sections.get("log", []) if line.strip()]}


def _display_push(push: dict[str, Any]) -> str:
    from core.errors import EarshotError
    from core.push.settings import PushSettings

    try:
        return PushSettings.from_dict(push).display_url
    except EarshotError:
        return "(damaged push settings)"
