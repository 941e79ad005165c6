"""`earshot export` (the model as one zip) and `earshot flash` (that zip onto a MicroPython board)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from core.errors import DeployError, EarshotError
from earshot.commands import argtypes


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    export = subparsers.add_parser(
        "export", help="export the trained model as a zip (Keras, TFLite float32/int8, C array, predict.py)",
        description="Write one zip with the trained model in every form: model.keras, model.tflite, "
                    "model_int8.tflite (calibrated on the project's clips), labels.txt, metadata.json, "
                    "model_int8.h/.cc for TFLite Micro, a standalone predict.py and a README.")
    export.add_argument("dir", nargs="?", default=".", type=Path, help="project folder (default: .)")
    export.add_argument("-o", "--output", type=Path, help="zip to write (default: DIR/<project>-model.zip)")
    export.add_argument("--json", action="store_true", help="print the result as JSON")
    export.set_defaults(func=run_export)

    flash = subparsers.add_parser(
        "flash", help="copy an exported model and a main.py to a MicroPython board over serial",
        description="Copy model_int8.tflite, labels.txt, metadata.json and a generated main.py to a "
                    "MicroPython board through its raw REPL. Every file is checked by SHA-256 after "
                    "writing; files the board already has are skipped.")
    flash.add_argument("model", type=Path, help="model zip from 'earshot export' (or a project folder: "
                                                "exported first)")
    flash.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0 ('earshot devices')")
    flash.add_argument("--baud", type=argtypes.BAUD, default=115200, help="baud rate (default 115200)")
    flash.add_argument("--dir", default="/", dest="remote_dir",
                       help="folder on the board (default /; the board runs /main.py at boot)")
    flash.add_argument("--mqtt", metavar="URL",
                       help="broker main.py subscribes to, e.g. mqtt://siot:dfrobot@192.168.1.2:1883/proj/dev")
    flash.add_argument("--wifi-ssid", default="", help="Wi-Fi network the board joins")
    flash.add_argument("--wifi-password", default="", help="its password")
    flash.add_argument("--timeout", type=argtypes.TIMEOUT, default=5.0,
                       help="seconds to wait for each answer (default 5)")
    flash.add_argument("--json", action="store_true", help="print the result as JSON")
    flash.set_defaults(func=run_flash)


def _status(message: str) -> None:
    print(f"earshot: {message}", file=sys.stderr, flush=True)


def run_export(args: argparse.Namespace) -> int:
    from core.export import export_project
    from core.project import check_writable

    # where the zip goes must be writable before the conversion starts (a read-only project: use -o)
    try:
        check_writable(args.output.parent if args.output else args.dir, need_bytes=4 << 20)
    except EarshotError as exc:
        raise DeployError(exc.message, "choose another place with -o PATH.zip") from None
    result = export_project(args.dir, args.output, on_status=None if args.json else _status)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    for line in export_summary(result):
        print(line)
    return 0


def _percent(value: Any) -> str:
    return "n/a" if value is None or value != value else f"{value:.1%}"


def export_summary(result: Any) -> list[str]:
    """The lines `earshot export` prints, each accuracy named with the model it belongs to: the zip's
    model*.tflite are always the small CNN, which is not the project's own model when that is an ear."""
    accuracy, clips = result.accuracy, f"{result.test_clips} clips"
    scores = f"keras {_percent(accuracy['keras'])}, float32 {_percent(accuracy['float32'])}"
    sizes = (f"model.tflite {result.sizes['model.tflite'] / 1024:.1f} KiB, "
             f"model_int8.tflite {result.sizes['model_int8.tflite'] / 1024:.1f} KiB")
    lines = [f"exported {result.path}", f"  labels: {', '.join(result.labels)}"]
    if result.kind == "small":
        return lines + [f"  test split ({clips}), small CNN: {scores}, int8 {_percent(accuracy['int8'])}",
                        f"  {sizes}"]
    return lines + [
        f"  {result.kind} model: {_percent(accuracy.get(result.kind))} on the test split ({clips}; "
        "predict.py runs it)",
        "  microcontroller model (small CNN, what flash puts on a board), same split:",
        f"    {scores} (model.tflite), int8 {_percent(accuracy['int8'])} (model_int8.tflite)",
        f"  {sizes} (both the small CNN)"]


def small_model_note(model_zip: Path) -> str | None:
    """When the zip's own model is a pretrained ear: a line saying the board gets the small CNN."""
    import zipfile

    try:
        with zipfile.ZipFile(model_zip) as archive:
            meta = json.loads(archive.read("metadata.json"))
        kind, accuracy = meta.get("model", {}).get("kind", "small"), meta.get("accuracy", {})
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if kind == "small":
        return None
    return (f"the board gets the small CNN (int8 {_percent(accuracy.get('int8'))} on the test split): a "
            f"microcontroller cannot run the project's {kind} model ({_percent(accuracy.get(kind))})")


class _ProgressBar:
    """One line on stderr redrawn in place: file, step, bytes written out of the total."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.plain = enabled and not self.enabled
        self.last_line = ""

    def __call__(self, progress: Any) -> None:
        if progress.step == "writing" and self.enabled:
            total = max(progress.total_bytes, 1)
            filled = int(30 * progress.done_bytes / total)
            line = (f"\r[{'#' * filled}{'.' * (30 - filled)}] {progress.done_bytes * 100 // total:3d}% "
                    f"{progress.name}")
            print(line.ljust(len(self.last_line)), end="", file=sys.stderr, flush=True)
            self.last_line = line
        elif progress.step in ("skipped", "done"):
            self.finish_line()
            if self.enabled or self.plain:
                word = "up to date" if progress.step == "skipped" else "written and verified"
                print(f"  {progress.name}: {word}", file=sys.stderr, flush=True)

    def finish_line(self) -> None:
        if self.last_line:
            print("\r" + " " * len(self.last_line) + "\r", end="", file=sys.stderr, flush=True)
            self.last_line = ""


def board_config(args: argparse.Namespace, model_zip: Path) -> Any:
    """The board's settings: --mqtt read exactly as `listen --push` reads a URL, with the same default
    topic (`siot/<project>`, the project named in the model zip)."""
    from core.deploy.flash import BoardConfig, model_project_name

    others = {"dir": args.remote_dir, "wifi_ssid": args.wifi_ssid, "wifi_password": args.wifi_password}
    if not args.mqtt:
        return BoardConfig(**others)
    return BoardConfig.from_mqtt_url(args.mqtt, project_name=model_project_name(model_zip), **others)


def run_flash(args: argparse.Namespace) -> int:
    from core.deploy.flash import BoardConfig
    from core.deploy.serial import open_port

    if args.mqtt:
        BoardConfig.from_mqtt_url(args.mqtt)  # a bad address is refused before any export or serial work
    # a missing, busy or forbidden port is refused before the (long) export; the port stays open and
    # locked until the files are written, so nothing else takes it meanwhile
    link = open_port(args.port, baud=args.baud)
    try:
        return _flash_through(args, link)
    finally:
        try:
            link.close()
        except Exception:
            pass


def _flash_through(args: argparse.Namespace, link: Any) -> int:
    from core.deploy.flash import deployable_files, flash_files

    model = Path(args.model)
    if model.is_dir():
        from core.export import export_project

        _status(f"exporting {model} first")
        model = export_project(model, on_status=None if args.json else _status).path
    config = board_config(args, model)
    files = deployable_files(model, config)
    note = small_model_note(model)
    if note and not args.json:
        _status(note)
    bar = _ProgressBar(not args.json)
    cancel = threading.Event()
    try:
        result = flash_files(files, args.port, baud=args.baud, remote_dir=args.remote_dir,
                             timeout=args.timeout, on_progress=bar, cancel=cancel, link=link)
    except KeyboardInterrupt:
        bar.finish_line()
        raise DeployError("flash interrupted", "run flash again: finished files are skipped, the board "
                          "keeps its previous copy of the others") from None
    finally:
        bar.finish_line()
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    rate = f", {result.bytes_per_second / 1024:.1f} KiB/s" if result.bytes_written else ""
    print(f"flashed {model.name} to {args.port}:{args.remote_dir} - {len(result.written)} written, "
          f"{len(result.skipped)} up to date ({result.bytes_written} bytes in {result.seconds:.1f} s{rate})")
    if not config.broker:
        print("  main.py has no broker: flash with --mqtt mqtt://siot:dfrobot@HOST:1883/TOPIC "
              "--wifi-ssid NAME --wifi-password PASS to react to 'earshot listen --push'")
    return 0
