"""Deploy an exported model to a Linux board over SSH: check the board, copy, verify, switch.

The board folder (default `~/earshot`) holds versioned releases and a `current` symlink:

    releases/<content hash>/   predict.py, the models, labels.txt, metadata.json, requirements.txt, ...
    current -> releases/<hash> listen.json (how the listener runs, owner-only: it holds the broker password)
    venv/                      made by `--install`: the bundle's requirements, used when present

A new release is unpacked into a hidden folder, every file's SHA-256 is computed on the board and
compared with the local one, and only then is the folder renamed into `releases/` and `current`
replaced by a rename (atomic), so the running listener keeps its model until the new one is complete.
The same bundle deployed twice is not copied again.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.deploy.linux_ssh import SshSession, SshTarget, remote_error
from core.errors import DeployError

MIN_PYTHON = (3, 7)
# Files of the export zip that a Linux board cannot use (TFLite Micro sources, the Keras model).
NOT_FOR_BOARD = frozenset({"model.keras", "model_int8.h", "model_int8.cc"})
KEEP_RELEASES = 2  # current and the one before it, to go back by hand
SPACE_MARGIN_KB = 256

# Import name -> pip name; each feature needs its group.
INTERPRETERS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow")
NEEDS = {"model": ("numpy",), "mic": ("sounddevice",), "push": ("paho.mqtt.client",)}
PIP_NAMES = {"numpy": "numpy", "sounddevice": "sounddevice", "paho.mqtt.client": "paho-mqtt",
             "ai_edge_litert.interpreter": "ai-edge-litert", "tflite_runtime.interpreter": "tflite-runtime"}

# Runs on the board's Python (any version, even 2.x, so an old one can be named): version and modules.
PY_PROBE = r"""
import json, os, sys, sysconfig
out = {"version": list(sys.version_info[:3]), "executable": sys.executable, "modules": {},
       "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
       "managed": os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED"))}
for name in sys.argv[1:]:
    try:
        if name == "tensorflow":
            import importlib.util
            if importlib.util.find_spec(name) is None:
                raise ImportError(name)
        else:
            __import__(name)
        out["modules"][name] = "ok"
    except ImportError:
        out["modules"][name] = "missing"
    except Exception as exc:
        out["modules"][name] = "broken: %s" % str(exc).splitlines()[0][:200] if str(exc) else "broken"
print("EARSHOT-PROBE " + json.dumps(out))
"""

# $1 folder, $2 python (empty: the folder's venv, else python3), $3 the probe code, $4.. modules.
SH_PROBE = r"""
dir=$1; py=$2; code=$3; shift 3
case "$dir" in /*) ;; *) dir="$HOME/$dir";; esac
echo "home=$HOME"; echo "dir=$dir"; echo "uid=$(id -u)"; echo "user=$(id -un)"
if [ -d /run/systemd/system ]; then echo "systemd=1"; else echo "systemd=0"; fi
if systemctl --user show-environment >/dev/null 2>&1; then echo "user_systemd=1"
else echo "user_systemd=0"; fi
probe="$dir/.earshot-write-test"
if err=$( { mkdir -p "$dir" && touch "$probe" && rm -f "$probe"; } 2>&1 ); then
  echo "writable=1"; echo "free_kb=$(df -Pk "$dir" | awk 'NR==2 {print $4}')"
else
  echo "writable=0"; echo "write_error=$(echo "$err" | tail -n 1)"
fi
if [ -z "$py" ]; then
  if [ -x "$dir/venv/bin/python" ]; then py="$dir/venv/bin/python"; else py=python3; fi
fi
if found=$(command -v "$py" 2>/dev/null); then
  echo "python=$found"; "$found" -c "$code" "$@" 2>&1 | tail -n 5
else
  echo "python=$py"; echo "no_python=1"
fi
"""

# $1 release folder (absolute), $2 python, $3.. files: their SHA-256 as the board computes it.
SH_UNPACK = r"""
rel=$1; py=$2; shift 2
releases=$(dirname "$rel")
# Half copies of interrupted deploys (not of one running now: those are recent).
find "$releases" -maxdepth 1 -name '.incoming-*' -mmin +30 -exec rm -rf {} + 2>/dev/null
incoming="$releases/.incoming-$$"
mkdir -p "$incoming" || exit 1
if ! tar -xf - -C "$incoming"; then rm -rf "$incoming"; exit 1; fi
cd "$incoming" && "$py" -c 'import hashlib, sys
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        print(hashlib.sha256(f.read()).hexdigest() + " " + name)' "$@" || { rm -rf "$incoming"; exit 1; }
echo "incoming=$incoming"
"""

# $1 folder, $2 incoming folder, $3 release name, $4 python, $5 releases to keep.
SH_SWITCH = r"""
dir=$1; incoming=$2; name=$3; py=$4; keep=$5
rel="$dir/releases/$name"
if [ -n "$incoming" ]; then
  if [ -d "$rel" ]; then rm -rf "$rel.old"; mv "$rel" "$rel.old" || exit 1; fi
  mv "$incoming" "$rel" || exit 1
  rm -rf "$rel.old"
fi
"$py" -c 'import os, sys
link, target = sys.argv[1], sys.argv[2]
if os.path.lexists(link + ".new"):
    os.remove(link + ".new")
os.symlink(target, link + ".new")
os.replace(link + ".new", link)' "$dir/current" "releases/$name" || exit 1
cd "$dir/releases" && ls -1t | grep -v -x -e "$name" | grep -v '^\.' | tail -n +"$keep" |
  while read -r old; do rm -rf "$old"; done
"""

# $1 folder, $2 release name: does a complete copy exist already? Prints the file hashes.
SH_HAVE = r"""
rel="$1/releases/$2"; py=$3; shift 3
[ -d "$rel" ] || exit 0
cd "$rel" && "$py" -c 'import hashlib, os, sys
for name in sys.argv[1:]:
    if os.path.isfile(name):
        with open(name, "rb") as f:
            print(hashlib.sha256(f.read()).hexdigest() + " " + name)' "$@"
"""

# $1 path, content on stdin: written owner-only, replaced atomically.
SH_WRITE_PRIVATE = r"""
umask 077; tmp="$1.new"; cat > "$tmp" && mv -f "$tmp" "$1"
"""


@dataclass(frozen=True)
class BoardInfo:
    """What the board offers: folder, space, Python and its packages, and systemd."""

    home: str
    folder: str  # absolute
    user: str
    uid: int
    systemd: bool
    user_systemd: bool
    writable: bool
    write_error: str
    free_kb: int | None
    python: str
    python_version: tuple[int, ...] | None
    modules: dict[str, str]
    externally_managed: bool = False
    in_venv: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "user": self.user, "systemd": self.systemd,
                "free_kb": self.free_kb, "python": self.python,
                "python_version": ".".join(map(str, self.python_version or ())), "modules": self.modules}


@dataclass(frozen=True)
class Bundle:
    """The files that go to the board, by name."""

    files: dict[str, bytes]

    @property
    def hashes(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.files.items()}

    @property
    def release(self) -> str:
        """A name that changes whenever any file does: the hash of all the hashes."""
        joined = "".join(f"{name}\0{digest}\n" for name, digest in sorted(self.hashes.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.files.values())

    @property
    def labels(self) -> list[str]:
        return [x for x in self.files.get("labels.txt", b"").decode("utf-8").splitlines() if x]

    def tar(self) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for name, data in sorted(self.files.items()):
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), int(time.time())
                info.mode = 0o755 if name == "predict.py" else 0o644
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def load_bundle(model: Path) -> Bundle:
    """The board's files from an export zip or an unpacked export folder."""
    model = Path(model)
    files: dict[str, bytes] = {}
    try:
        if model.is_dir():
            for path in sorted(model.rglob("*")):
                name = path.relative_to(model).as_posix()
                if path.is_file() and name not in NOT_FOR_BOARD and "__pycache__" not in name:
                    files[name] = path.read_bytes()
        else:
            with zipfile.ZipFile(model) as archive:
                for info in archive.infolist():
                    name = info.filename
                    unsafe = name.startswith(("/", "..")) or "/../" in name
                    if info.is_dir() or name in NOT_FOR_BOARD or unsafe:
                        continue
                    files[name] = archive.read(info)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DeployError(f"cannot read the model {model}: {exc}",
                          "give a zip made by 'earshot export' or a project folder") from None
    missing = [n for n in ("predict.py", "labels.txt", "metadata.json") if n not in files]
    if missing or not any(n.endswith(".tflite") for n in files):
        raise DeployError(f"{model} is not an earshot export (no {', '.join(missing) or 'TFLite model'})",
                          "make one with: earshot export PROJECT")
    return Bundle(files)


def _key_values(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("EARSHOT-PROBE "):
            values["probe"] = line[len("EARSHOT-PROBE "):]
        elif "=" in line and not line.startswith(" "):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), value.strip())
    return values


def probe(session: SshSession, python: str | None = None) -> BoardInfo:
    """Ask the board about its folder, Python, packages and systemd (one round trip)."""
    modules = [*INTERPRETERS, *(m for group in NEEDS.values() for m in group)]
    result = session.run(SH_PROBE, session.target.path, python or "", PY_PROBE, *modules, timeout=60)
    values = _key_values(result.text)
    if "dir" not in values:
        said = (result.text + result.stderr).strip()[:200]
        raise DeployError(f"{session.target.host} did not answer like a Linux board: {said}",
                          "check it with: ssh HOST uname -a")
    version: tuple[int, ...] | None = None
    details: dict[str, Any] = {}
    if "probe" in values:
        try:
            details = json.loads(values["probe"])
            version = tuple(int(x) for x in details["version"])
        except (ValueError, KeyError, TypeError):
            details = {}
    free = values.get("free_kb", "")
    return BoardInfo(
        home=values.get("home", ""), folder=values["dir"], user=values.get("user", ""),
        uid=int(values.get("uid", "-1") or -1), systemd=values.get("systemd") == "1",
        user_systemd=values.get("user_systemd") == "1", writable=values.get("writable") == "1",
        write_error=values.get("write_error", ""), free_kb=int(free) if free.isdigit() else None,
        python=values.get("python", python or "python3"), python_version=version,
        modules=dict(details.get("modules", {})), externally_managed=bool(details.get("managed")),
        in_venv=bool(details.get("venv")))


def check_python(info: BoardInfo, target: SshTarget) -> None:
    """Raise when the board has no Python 3.7+ (nothing of the bundle could run)."""
    if info.python_version is None:
        raise DeployError(f"no Python at {info.python!r} on {target.host}",
                          "install it on the board: sudo apt-get install python3 (or give --python PATH)")
    if tuple(info.python_version[:2]) < MIN_PYTHON:
        found = ".".join(map(str, info.python_version))
        raise DeployError(f"{info.python} on {target.host} is Python {found}; the model needs 3.7 or later",
                          "install a newer python3 on the board, or give --python PATH")


def missing_packages(info: BoardInfo, *, push: bool) -> list[str]:
    """pip names of what the board lacks to listen (and push); empty when it has everything."""
    wanted = [*NEEDS["model"], *NEEDS["mic"], *(NEEDS["push"] if push else ())]
    missing = [PIP_NAMES[m] for m in wanted if info.modules.get(m) != "ok"]
    if not any(info.modules.get(m) == "ok" for m in INTERPRETERS):
        modern = info.python_version is None or tuple(info.python_version[:2]) >= (3, 9)
        missing.insert(1, "ai-edge-litert" if modern else "tflite-runtime")
    return missing


def broken_modules(info: BoardInfo) -> dict[str, str]:
    """Modules that are installed but fail to import (e.g. sounddevice without PortAudio)."""
    return {name: state for name, state in info.modules.items() if state.startswith("broken")}


def pip_command(info: BoardInfo, packages: list[str]) -> str:
    """The exact line to run on the board to install `packages`."""
    if info.in_venv or not info.externally_managed:
        return f"{info.python} -m pip install {' '.join(packages)}"
    # Debian 12 and later refuse system-wide pip installs: a venv in the deploy folder (used when present).
    return (f"python3 -m venv --system-site-packages {info.folder}/venv && "
            f"{info.folder}/venv/bin/pip install {' '.join(packages)}")


@dataclass
class CopyResult:
    release: str
    copied: list[str] = field(default_factory=list)
    unchanged: bool = False
    bytes: int = 0
    seconds: float = 0.0


def copy_bundle(session: SshSession, info: BoardInfo, bundle: Bundle,
                on_status: Callable[[str], None] | None = None) -> CopyResult:
    """Copy the bundle into a new release, verify every file by SHA-256, then switch `current` to it."""
    status = on_status or (lambda _m: None)
    started = time.perf_counter()
    target = session.target
    if not info.writable:
        raise remote_error(target, info.write_error or "permission denied", info.folder)
    need_kb = bundle.size // 1024 + SPACE_MARGIN_KB
    if info.free_kb is not None and info.free_kb < need_kb:
        raise DeployError(f"the board's disk is full at {target.host}:{info.folder} "
                          f"({info.free_kb} KB free, the model needs {need_kb} KB)",
                          "free some space on the board or deploy to another folder, then deploy again")
    release, names, expected = bundle.release, sorted(bundle.files), bundle.hashes
    rel_dir = f"{info.folder}/releases/{release}"
    have = _hashes(session.run(SH_HAVE, info.folder, release, info.python, *names).text)
    result = CopyResult(release, bytes=bundle.size)
    if have == expected:
        status(f"the board already has this model ({release}); switching to it")
        result.unchanged = True
        incoming = ""
    else:
        status(f"copying {len(names)} files ({bundle.size / 1024:.0f} KB) to {target.host}:{info.folder}")
        try:
            unpacked = session.run(SH_UNPACK, rel_dir, info.python, *names, stdin=bundle.tar(), timeout=600)
        except DeployError as error:
            raise _with_path(error, info.folder) from None
        got = _hashes(unpacked.text)
        bad = [name for name in names if got.get(name) != expected[name]]
        incoming = _key_values(unpacked.text).get("incoming", "")
        if bad:
            session.run('rm -rf "$1"', incoming, check=False)
            raise DeployError(f"{len(bad)} files arrived damaged on the board ({', '.join(bad[:3])})",
                              "the running model was not touched; deploy again")
        result.copied = names
        status(f"verified {len(names)} files by SHA-256 on the board")
    session.run(SH_SWITCH, info.folder, incoming, release, info.python, str(KEEP_RELEASES))
    result.seconds = time.perf_counter() - started
    return result


def _with_path(error: DeployError, folder: str) -> DeployError:
    return error if folder in error.message else DeployError(f"{error.message} ({folder})", error.hint)


def _hashes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, name = line.partition(" ")
        if len(digest) == 64 and name:
            out[name] = digest
    return out


def write_private(session: SshSession, path: str, data: bytes) -> None:
    """Write a file only the board user can read (it may hold the broker password)."""
    session.run(SH_WRITE_PRIVATE, path, stdin=data)


def install_packages(session: SshSession, info: BoardInfo, packages: list[str],
                     on_status: Callable[[str], None] | None = None) -> str:
    """Make `<folder>/venv` (reusing the board's own packages) and pip install the bundle's
    requirements.txt into it (`packages` when the bundle has none).

    Returns the venv's python. Needs internet access on the board.
    """
    status = on_status or (lambda _m: None)
    status(f"installing what the board lacks ({', '.join(packages)}) with the model's requirements.txt "
           f"into {info.folder}/venv (this takes a while)")
    script = ('dir=$1; py=$2; shift 2; log="$dir/pip.log"; '
              'if [ ! -x "$dir/venv/bin/python" ]; then '
              '"$py" -m venv --system-site-packages "$dir/venv" > "$log" 2>&1 || '
              '{ rm -rf "$dir/venv"; tail -n 3 "$log" >&2; exit 2; }; fi; '
              '[ -f "$dir/current/requirements.txt" ] && set -- -r "$dir/current/requirements.txt"; '
              '"$dir/venv/bin/python" -m pip install --disable-pip-version-check "$@" > "$log" 2>&1 || '
              '{ tail -n 3 "$log" >&2; exit 1; }')
    result = session.run(script, info.folder, info.python, *packages, timeout=1800, check=False)
    if result.code == 2:
        raise DeployError(f"the board cannot make a venv: {result.stderr.strip().splitlines()[-1:]}",
                          "on the board run: sudo apt-get install python3-venv")
    if result.code != 0:
        lines = result.stderr.strip().splitlines()
        raise DeployError(f"installing on the board failed: {lines[-1] if lines else result.code}",
                          f"check the board's internet access, or on the board run: "
                          f"{pip_command(info, packages)}")
    return f"{info.folder}/venv/bin/python"
