"""Run commands on a Linux board with the user's own OpenSSH client, and say clearly why it failed.

`SshTarget.parse("ssh://[user@]host[:port][/path]")` names the board and the folder there;
`SshSession` runs POSIX shell scripts on it over one multiplexed connection (ControlMaster), so a
deploy of several steps pays for one login. Keys, agent and `~/.ssh/config` are OpenSSH's own;
`BatchMode=yes` means ssh never asks for a password, and a refused key becomes a `DeployError` whose
hint says how to set one up (`ssh-copy-id`). A new board's host key is accepted on first use
(`StrictHostKeyChecking=accept-new`); a changed one is refused.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import DeployError

DEFAULT_FOLDER = "earshot"  # relative to the board user's home
CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class SshTarget:
    """Where to deploy: `host` (an IP, a name or a `~/.ssh/config` alias), optional user and port, and
    `path`, the board folder (relative paths are in the user's home)."""

    host: str
    user: str | None = None
    port: int | None = None
    path: str = DEFAULT_FOLDER

    @classmethod
    def parse(cls, url: str) -> SshTarget:
        """`ssh://[user@]host[:port][/path]`; `/~/dir` or no path is relative to the home folder."""
        text = url.strip()
        parts = urlsplit(text if "://" in text else f"ssh://{text}")
        if parts.scheme != "ssh":
            raise DeployError(f"not an SSH address: {url!r}", "write ssh://user@host[:port][/path]")
        try:
            port = parts.port
        except ValueError:
            raise DeployError(f"bad port in {url!r}", "the port is 1 to 65535") from None
        if not parts.hostname:
            raise DeployError(f"no board in {url!r}", "write ssh://user@host, e.g. ssh://root@10.1.2.3")
        path = unquote(parts.path)
        if path.startswith("/~"):
            path = path[2:].lstrip("/")
        path = path.rstrip("/") if len(path) > 1 else path
        if path in ("", "/"):
            path = DEFAULT_FOLDER if path == "" else path
        # urlsplit lower-cases the host; aliases in ~/.ssh/config are case-sensitive.
        host = parts.netloc.rpartition("@")[2]
        host = host[1:host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0] if port else host
        return cls(host=host, user=unquote(parts.username) if parts.username else None, port=port, path=path)

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        path = self.path if self.path.startswith("/") else f"/~/{self.path}"
        return f"ssh://{self.destination}{port}{path}"


@dataclass(frozen=True)
class SshOptions:
    """The user's choices for the ssh client: `-F` config, `-i` key, `-o` options, connect timeout."""

    config: Path | None = None
    identity: Path | None = None
    options: tuple[str, ...] = ()
    connect_timeout: int = CONNECT_TIMEOUT


@dataclass
class RemoteResult:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


@dataclass
class SshSession:
    """One multiplexed SSH connection to the board; use as a context manager."""

    target: SshTarget
    options: SshOptions = field(default_factory=SshOptions)
    _control_dir: str | None = None

    def __enter__(self) -> SshSession:
        if shutil.which("ssh") is None:
            raise DeployError("ssh is not installed on this machine", "apt-get install openssh-client")
        # A short folder: unix socket paths are limited to ~104 bytes.
        self._control_dir = tempfile.mkdtemp(prefix="es-ssh-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._control_dir is None:
            return
        try:  # closing the shared connection is tidying up: never turn a finished deploy into a failure
            subprocess.run(self._base(["-O", "exit"]) + [self.target.destination], capture_output=True,
                           timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            pass
        shutil.rmtree(self._control_dir, ignore_errors=True)
        self._control_dir = None

    def _base(self, extra: list[str] | None = None) -> list[str]:
        command = ["ssh"]
        if self.options.config is not None:
            command += ["-F", str(self.options.config)]
        if self.options.identity is not None:
            command += ["-i", str(self.options.identity)]
        command += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.options.connect_timeout}",
                    "-o", "StrictHostKeyChecking=accept-new", "-o", "ServerAliveInterval=5",
                    "-o", "ServerAliveCountMax=3"]
        if self._control_dir is not None:
            command += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self._control_dir}/%C",
                        "-o", "ControlPersist=30"]
        for option in self.options.options:
            command += ["-o", option]
        if self.target.port:
            command += ["-p", str(self.target.port)]
        return command + (extra or [])

    def run(self, script: str, *args: str, stdin: bytes | None = None, timeout: float = 120,
            check: bool = True) -> RemoteResult:
        """Run a POSIX sh `script` on the board with positional `args` ($1, $2, ...).

        Connection failures always raise a DeployError; with `check` a non-zero exit of the script does
        too (its last stderr line is the message).
        """
        remote = " ".join(shlex.quote(word) for word in ("sh", "-c", script, "earshot", *args))
        command = self._base() + ["--", self.target.destination, remote]
        try:
            done = subprocess.run(command, input=stdin if stdin is not None else b"", capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeployError(f"{self.target.host} stopped answering (no reply in {timeout:.0f} s)",
                              "check the board is on and the network is up, then try again") from None
        stderr = done.stderr.decode("utf-8", "replace")
        if done.returncode == 255:
            raise connection_error(self.target, stderr)
        result = RemoteResult(done.returncode, done.stdout, stderr)
        if check and done.returncode != 0:
            raise remote_error(self.target, stderr)
        return result


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def connection_error(target: SshTarget, stderr: str) -> DeployError:
    """The one line a user needs when ssh itself failed (exit code 255)."""
    where = f"{target.host}:{target.port or 22}"
    text = stderr.lower()
    copy_id = f"ssh-copy-id {'-p ' + str(target.port) + ' ' if target.port else ''}{target.destination}"
    if "could not resolve hostname" in text or "name or service not known" in text:
        return DeployError(f"cannot find the board {target.host!r} (its name does not resolve)",
                           "check the name, or use its IP address (a UNIHIKER over USB is 10.1.2.3)")
    if "connection refused" in text:
        return DeployError(f"{where} refuses SSH connections",
                           "check the port and that the board's SSH server is running")
    if any(s in text for s in ("timed out", "no route to host", "network is unreachable",
                               "host is down", "connection closed by remote host")):
        return DeployError(f"cannot reach {where}", "check that the board is on and on this network")
    if "permission denied" in text or "too many authentication failures" in text:
        return DeployError(
            f"{target.destination} refused the SSH login (no key it accepts)",
            f"set up a key once: ssh-keygen -t ed25519 (if you have none), then {copy_id} "
            "(asks the board's password one time)")
    if "host key verification failed" in text or "remote host identification has changed" in text:
        return DeployError(f"the host key of {target.host} is not the one this machine knows",
                           f"if the board was reinstalled: ssh-keygen -R {target.host}, then deploy again")
    return DeployError(f"ssh to {where} failed: {_last_line(stderr)}", "try: ssh " + target.destination)


DISK_FULL = re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE)
READ_ONLY = re.compile(r"read-only file system", re.IGNORECASE)
NO_PERMISSION = re.compile(r"permission denied|operation not permitted", re.IGNORECASE)


def remote_error(target: SshTarget, stderr: str, path: str | None = None) -> DeployError:
    """A failed command on the board, named by its cause where it is a common one."""
    where = f"{target.host}:{path or target.path}"
    if DISK_FULL.search(stderr):
        return DeployError(f"the board's disk is full at {where}",
                           "free some space on the board (or deploy to another folder), then deploy again")
    if READ_ONLY.search(stderr):
        return DeployError(f"{where} is on a read-only file system",
                           "deploy to a writable folder, e.g. ssh://HOST/~/earshot")
    if NO_PERMISSION.search(stderr):
        return DeployError(f"no permission to write {where} as {target.user or 'this user'}",
                           "deploy into the user's home (ssh://HOST/~/earshot) or fix the folder's owner")
    return DeployError(f"the board said: {_last_line(stderr)}", f"check {where} over ssh")

