"""`earshot deploy MODEL ssh://...`: one call that checks the board, copies the model and (re)starts it.

Order matters for the board's user: nothing is copied to a board without a usable Python; the model is
copied even when packages are missing (the report says which and gives the `pip install` line, or
installs them with `install=True`); the listener is (re)started only once the new release is in
place, so the old one keeps listening until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.deploy import linux
from core.deploy.linux_service import ListenOptions, Started, board_status, start_listener, stop_listener
from core.deploy.linux_ssh import SshOptions, SshSession, SshTarget
from core.errors import DeployError


@dataclass
class BoardDeployResult:
    target: str
    model: str  # the export that was deployed
    folder: str
    release: str
    labels: list[str]
    copied: list[str]
    unchanged: bool
    python: str
    python_version: str
    missing: list[str]
    pip_line: str | None
    started: Started | None = None
    run_line: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "started"}
        out["started"] = self.started.to_dict() if self.started else None
        out["seconds"] = round(self.seconds, 2)
        return out


def deploy_to_board(model: Path, target: SshTarget, *, ssh: SshOptions | None = None,
                    listen: ListenOptions | None = None, service: bool = False, install: bool = False,
                    python: str | None = None, wait: float = 30.0,
                    on_status: Callable[[str], None] | None = None) -> BoardDeployResult:
    """Copy the exported `model` (zip, export folder, or a project: its export) to the board and, with
    `service`, start it listening.

    Without `service` a listener that is already running in that folder is restarted on the new model.
    """
    status = on_status or (lambda _m: None)
    started_at = time.perf_counter()
    listen = listen or ListenOptions()
    with SshSession(target, ssh or SshOptions()) as session:
        status(f"connecting to {target.destination}")
        info = linux.probe(session, python)
        linux.check_python(info, target)
        exported = model_bundle(model, status)  # after the board answered: an export takes a while
        bundle = linux.load_bundle(exported)
        copy = linux.copy_bundle(session, info, bundle, status)
        push = bool(listen.push)
        missing = linux.missing_packages(info, push=push)
        if missing and install:
            venv_python = linux.install_packages(session, info, missing, status)
            info = linux.probe(session, venv_python)
            missing = linux.missing_packages(info, push=push)
        broken = linux.broken_modules(info)
        linux.write_private(session, f"{info.folder}/listen.json", listen.config())
        result = BoardDeployResult(
            target=str(target), model=str(exported), folder=info.folder, release=copy.release,
            labels=bundle.labels,
            copied=copy.copied, unchanged=copy.unchanged, python=info.python,
            python_version=".".join(map(str, info.python_version or ())), missing=missing,
            pip_line=linux.pip_command(info, missing) if missing else None,
            run_line=f"cd {info.folder}/current && {info.python} predict.py --listen"
                     + (f" --push {_display_push(listen.push)}" if listen.push else ""))
        if listen.push and str(listen.push.get("host")) in ("localhost", "127.0.0.1", "::1") \
                and target.host not in ("localhost", "127.0.0.1", "::1"):
            result.notes.append("the broker address localhost means the board itself: give the address of "
                                "the lab machine or SIoT (e.g. --push mqtt://siot:dfrobot@192.168.1.20)")
        if "sounddevice" in broken:
            result.notes.append("sounddevice cannot load PortAudio on the board: "
                                "sudo apt-get install libportaudio2")
        was_running = bool(board_status(session).get("running"))
        if service or was_running:
            if missing or "sounddevice" in broken:
                what = ", ".join(missing) or "PortAudio"
                fix = (f"on the board run: {result.pip_line}" if missing
                       else "on the board run: sudo apt-get install libportaudio2")
                raise DeployError(f"the model is on the board but it lacks {what} to listen",
                                  f"{fix} (or deploy again with --install), then deploy again")
            status("starting the listener" if not was_running else "restarting the listener on the new model")
            result.started = start_listener(session, info, info.python, listen, wait=wait)
            if result.started.note:
                result.notes.append(result.started.note)
    result.seconds = time.perf_counter() - started_at
    return result


def _display_push(push: dict[str, Any]) -> str:
    from core.push.settings import PushSettings

    return PushSettings.from_dict(push).display_url


def model_bundle(model: Path, on_status: Callable[[str], None] | None = None) -> Path:
    """The export to deploy: a zip or export folder as given; for a project folder its newest export
    when that is newer than the trained model, else a new export (which loads TensorFlow)."""
    from core.project import PROJECT_FILE

    status = on_status or (lambda _m: None)
    model = Path(model)
    if not (model / PROJECT_FILE).is_file():
        if not model.exists():
            raise DeployError(f"{model} does not exist",
                              "give a project folder or a zip from 'earshot export'")
        return model
    from core.export import export_project, model_folder

    trained = (model_folder(model) / "metadata.json").stat().st_mtime
    exports = sorted(model.glob("*-model.zip"), key=lambda p: p.stat().st_mtime)
    if exports and exports[-1].stat().st_mtime >= trained:
        status(f"using {exports[-1]} (exported after the last training)")
        return exports[-1]
    status(f"exporting {model} first")
    return export_project(model, on_status=status).path


def status_on_board(target: SshTarget, ssh: SshOptions | None = None) -> dict[str, Any]:
    with SshSession(target, ssh or SshOptions()) as session:
        return {"target": str(target), **board_status(session)}


def stop_on_board(target: SshTarget, ssh: SshOptions | None = None) -> dict[str, Any]:
    with SshSession(target, ssh or SshOptions()) as session:
        return {"target": str(target), **stop_listener(session)}

