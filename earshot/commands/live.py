"""`earshot devices`, `earshot record` and `earshot listen`: microphones, recording, live results."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from core.errors import CaptureError
from core.spec import RECORD_SECONDS
from earshot.commands import argtypes

BAR_WIDTH = 24


def register(subparsers: argparse._SubParsersAction) -> None:
    devices = subparsers.add_parser("devices", help="list microphones and serial ports")
    devices.add_argument("--json", action="store_true", help="print one JSON object")
    devices.set_defaults(func=cmd_devices)

    record = subparsers.add_parser("record", help="record a class from the microphone and extract samples")
    record.add_argument("dir", type=Path, help="project folder")
    record.add_argument("class_name", metavar="CLASS", help="class to record, e.g. 'Background Noise'")
    record.add_argument("--seconds", type=argtypes.RECORD_SECONDS, default=RECORD_SECONDS,
                        help="length (default: %(default)g)")
    record.add_argument("--mode", choices=("fixed", "events"),
                        help="cut 1 s windows in a row (fixed) or around each sound (events); "
                             "default: fixed for Background Noise, events otherwise")
    _add_source_arguments(record)
    record.add_argument("--countdown", type=argtypes.COUNTDOWN,
                        help="seconds to count down first (default: 3; 0 with --input)")
    record.set_defaults(func=cmd_record)

    listen = subparsers.add_parser("listen", help="classify live sound with a trained model")
    listen.add_argument("model", type=Path, metavar="DIR|MODEL.zip",
                        help="project folder, model folder or exported zip")
    _add_source_arguments(listen)
    listen.add_argument("--seconds", type=argtypes.finite,
                        help="stop after this much audio (default: until Ctrl-C)")
    listen.add_argument("--json", action="store_true", help="print one JSON object per decision")
    listen.add_argument("--threshold", type=argtypes.finite,
                        help="smallest confidence reported (default: the project's calibrated or saved "
                             "setting, else 0.5)")
    listen.add_argument("--hop", type=argtypes.finite, default=0.25,
                        help="seconds between windows (default: %(default)g)")
    listen.add_argument("--smooth", type=int,
                        help="windows averaged (default: the project's calibrated or saved setting, else 3)")
    listen.add_argument("--background", action="store_true", help="also report Background Noise")
    listen.add_argument("--keep-to", metavar="CLASS",
                        help="keep every reported window as a sample of CLASS (e.g. 'Background Noise' "
                             "to collect false alarms while the room is quiet)")
    listen.add_argument("--keep-max", type=int, metavar="N", help="with --keep-to: stop after keeping N")
    try:
        from earshot.commands.push_options import add_push_arguments
    except ImportError:
        pass
    else:
        add_push_arguments(listen)
    listen.set_defaults(func=cmd_listen)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--device", help="microphone number or name from 'earshot devices' (default: system)")
    source.add_argument("--input", type=Path, metavar="FILE", help="use a sound file instead of a microphone")
    parser.add_argument("--speed", type=argtypes.SPEED, default=1.0,
                        help="with --input: playback speed, 0 for as fast as possible (default: 1)")


def open_source(args: argparse.Namespace, sample_rate: int) -> Any:
    """A started-on-enter audio source: the file given with --input, else the microphone."""
    from core.capture import MicrophoneSource, WavFileSource

    if args.input is not None:
        return WavFileSource(args.input, sample_rate, speed=max(0.0, args.speed))
    return MicrophoneSource(sample_rate, args.device)


@contextmanager
def cancel_on_interrupt() -> Iterator[threading.Event]:
    """Ctrl-C sets the returned event instead of raising, so work in progress can be kept."""
    cancel = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A bar of `width` cells with eighth-cell resolution."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = int(round(fraction * width * 8))
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest else ""
    return ("█" * full + partial).ljust(width)


# ---------------------------------------------------------------- devices


def cmd_devices(args: argparse.Namespace) -> int:
    from core.capture import list_input_devices

    problem: CaptureError | None = None
    try:
        microphones = [d.to_dict() for d in list_input_devices()]
    except CaptureError as error:
        microphones, problem = [], error
    ports, port_note = _serial_ports()
    if args.json:
        print(json.dumps({"microphones": microphones, "serial_ports": ports,
                          "problems": [str(p) for p in (problem, port_note) if p]}))
    else:
        print("microphones:" if microphones else "microphones: none found")
        for mic in microphones:
            mark = "*" if mic["is_default"] else " "
            print(f" {mark}{mic['index']:>3}  {mic['name']}  ({mic['host_api']}, {mic['channels']} ch, "
                  f"{mic['default_rate']:g} Hz)")
        if microphones:
            print("  (* = default; choose one with --device NUMBER or --device NAME)")
        print("serial ports:" if ports else "serial ports: none found")
        for port in ports:
            print(f"  {port.get('device', port)}  {port.get('description', '')}".rstrip())
        if port_note:
            print(f"  ({port_note})")
    if problem is not None:
        from earshot.cli import report_error

        report_error(problem)
        return 1
    return 0


def _serial_ports() -> tuple[list[dict[str, Any]], str | None]:
    """Serial ports from the deploy area as plain dicts; a note instead when they cannot be listed."""
    try:
        from core.deploy.serial import list_serial_ports
    except ImportError:
        return [], "serial port listing is not available"
    try:
        found = list_serial_ports()
    except Exception as exc:  # a broken port enumeration must not hide the microphones
        return [], f"cannot list serial ports: {exc}"
    ports = []
    for port in found:
        if isinstance(port, dict):
            ports.append(port)
        elif hasattr(port, "to_dict"):
            ports.append(port.to_dict())
        elif hasattr(port, "device"):
            ports.append({"device": port.device, "description": getattr(port, "description", "")})
        else:
            ports.append({"device": str(port)})
    return ports, None


# ---------------------------------------------------------------- record


def cmd_record(args: argparse.Namespace) -> int:
    from core.capture import RecordingProgress, record
    from core.ingest import extract_recording
    from core.project import Project

    if args.seconds <= 0:
        raise CaptureError("the recording length must be positive", "give --seconds 1 or more")
    project = Project.open(args.dir)
    info = project.get_class(args.class_name)
    countdown = args.countdown if args.countdown is not None else (0 if args.input else 3)
    out = sys.stderr
    live = out.isatty()
    meter = Meter(out, live)

    def on_countdown(n: int) -> None:
        meter.line(f"recording {info.name!r} in {n}…" if n else f"recording {info.name!r}: go!")

    def on_progress(p: RecordingProgress) -> None:
        if live:
            meter.line(f"● REC {p.remaining:5.1f} s left  [{bar((p.level.rms_db + 60) / 60, 20)}] "
                       f"{p.level.rms_db:6.1f} dBFS  peak {p.level.peak_db:6.1f}"
                       + (f"  overflows {p.overflows}" if p.overflows else ""))

    with open_source(args, project.audio.sample_rate) as source, cancel_on_interrupt() as cancel:
        meter.line(f"recording from {source.name}")
        result = record(source, args.seconds, countdown=countdown, on_countdown=on_countdown,
                        on_progress=on_progress, cancel=cancel)
    meter.done()
    if result.audio.size == 0:
        print("cancelled before recording started; nothing saved", file=out)
        return 130 if result.cancelled else 1
    if result.problem:
        print(f"earshot: warning: {result.problem}; keeping the {result.seconds:.1f} s recorded before it",
              file=out)
    stopped = "stopped early, keeping" if result.cancelled else "recorded"
    print(f"{stopped} {result.seconds:.1f} s (level {result.level.rms_db:.1f} dBFS, "
          f"peak {result.level.peak_db:.1f} dBFS"
          + (f", {result.overflows} input overflows" if result.overflows else "") + ")", file=out)
    extraction = extract_recording(project, info, result.audio, mode=args.mode)
    print(f"{info.name}: {extraction.summary()}")
    if extraction.recording is not None:
        print(f"raw recording kept in {extraction.recording}")
    return 130 if result.cancelled else 0


class Meter:
    """One status line on a terminal (rewritten in place); plain lines when not a terminal."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out, self.live, self.dirty = out, live, False

    def line(self, text: str) -> None:
        if self.live:
            self.out.write("\r\x1b[2K" + text)
            self.dirty = True
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def done(self) -> None:
        if self.dirty:
            self.out.write("\n")
            self.out.flush()
            self.dirty = False


# ---------------------------------------------------------------- listen


def cmd_listen(args: argparse.Namespace) -> int:
    from core.classifier import load_classifier
    from core.infer import StreamingClassifier, StreamSettings, listen
    from earshot.commands.validate import make_keeper

    if args.seconds is not None and args.seconds <= 0:
        raise CaptureError("the listening time must be positive", "give --seconds 1 or more, or leave it out")
    project_name, saved = _project_settings(args.model)
    threshold = args.threshold
    if threshold is None:
        threshold = float(saved.get("threshold", StreamSettings.threshold))
    smooth = args.smooth if args.smooth is not None else int(saved.get("smooth_windows",
                                                                      StreamSettings.smooth_windows))
    settings = StreamSettings(hop_seconds=args.hop, smooth_windows=smooth, threshold=threshold,
                              report_background=args.background)
    keeper = make_keeper(args, project_name is not None)
    classifier = load_classifier(args.model)
    streaming = StreamingClassifier(classifier, settings)
    name = project_name or getattr(classifier, "metadata", {}).get("project") or args.model.stem
    publisher = _start_push(args, name)
    view: LiveView | None = None
    on_window: Callable[[Any], None] | None = None
    show_decision: Callable[[Any], None]
    if args.json:
        def show_decision(decision: Any) -> None:
            print(json.dumps(decision.to_dict()), flush=True)
    elif sys.stdout.isatty():
        view = LiveView(sys.stdout, streaming.labels)
        show_decision = view.decision
        on_window = view.window
    else:
        def show_decision(decision: Any) -> None:
            print(f"{decision.time:8.2f} s  {decision.label}  {decision.confidence:.0%}", flush=True)

    def on_decision(decision: Any) -> None:
        show_decision(decision)
        if publisher is not None:
            publisher.publish(decision)
        if keeper is not None:
            keeper.keep(decision)

    try:
        with open_source(args, classifier.audio.sample_rate) as opened, cancel_on_interrupt() as cancel:
            source = keeper.tap(opened, classifier, cancel) if keeper is not None else opened
            print(f"listening to {source.name} with {len(streaming.labels)} labels "
                  f"(threshold {threshold:g}, smoothing {smooth}); Ctrl-C to stop", file=sys.stderr)
            summary = listen(source, streaming, seconds=args.seconds, cancel=cancel,
                             on_window=on_window, on_decision=on_decision)
    finally:
        if view is not None:
            view.close()
        _stop_push(publisher)
    print(f"listened to {summary.seconds:.1f} s: {summary.windows} windows, {summary.decisions} decisions"
          + (f", {summary.overflows} input overflows" if summary.overflows else ""), file=sys.stderr)
    if keeper is not None:
        print(keeper.summary(), file=sys.stderr)
    return 0


def _project_settings(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The project's name and saved "validate" settings when `path` is a project folder."""
    from core.project import PROJECT_FILE, Project

    if not (path.is_dir() and (path / PROJECT_FILE).exists()):
        return None, {}
    project = Project.open(path)
    return project.name, project.settings("validate")


def _push_report(message: str) -> None:
    print(f"push: {message}", file=sys.stderr, flush=True)


def _start_push(args: argparse.Namespace, project_name: str) -> Any:
    """The started MQTT publisher when --push was given (the push area's options), else None."""
    try:
        from earshot.commands.push_options import start_push
    except ImportError:
        return None
    return start_push(args, project_name, _push_report)


def _stop_push(publisher: Any) -> None:
    if publisher is None:
        return
    try:
        from earshot.commands.push_options import stop_push
    except ImportError:
        publisher.stop()
    else:
        stop_push(publisher, _push_report)


class LiveView:
    """Confidence bars for every label, redrawn in place on a terminal, and the last decision."""

    def __init__(self, out: TextIO, labels: list[str]) -> None:
        self.out, self.labels = out, labels
        self.width = max(len(label) for label in labels)
        self.last = "—"
        self.drawn = 0

    def window(self, window: Any) -> None:
        lines = []
        for label, score in zip(self.labels, window.smoothed, strict=True):
            mark = "▶" if label == window.label else " "
            lines.append(f"{mark} {label:<{self.width}}  {bar(float(score))} {float(score):4.0%}")
        lines.append(f"  {window.time:7.2f} s   last: {self.last}")
        up = f"\x1b[{self.drawn}F" if self.drawn else ""
        self.out.write(up + "".join("\x1b[2K" + line + "\n" for line in lines))
        self.out.flush()
        self.drawn = len(lines)

    def decision(self, decision: Any) -> None:
        self.last = f"{decision.label} {decision.confidence:.0%} at {decision.time:.2f} s"

    def close(self) -> None:
        if self.drawn:
            self.out.write(f"  last decision: {self.last}\n")
            self.out.flush()
