"""`earshot calibrate` and `earshot map`: tune live listening on a test stream; see the samples in 2-D."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from core.errors import CaptureError
from earshot.commands import argtypes

MARKERS = "ox+*#@%&$"
RECOMMENDED_MARKER = "@"  # the calibrate chart's recommended point; no smoothing line uses it
DELAY_NOTE = "after end: mean time from a sound's end to its report (negative: before it)"


def register(subparsers: argparse._SubParsersAction) -> None:
    calibrate = subparsers.add_parser(
        "calibrate", help="choose the threshold and smoothing on a long test stream and save them",
        description="Place the model's test clips at random times over Background Noise, run the live "
                    "classifier over that stream and count false activations per hour, misses and delay "
                    "for every threshold and smoothing; save the recommended setting in the project.")
    argtypes.add_project_dir(calibrate, "project folder with a trained model")
    calibrate.add_argument("--minutes", type=float, default=10.0, help="stream length (default: %(default)g)")
    calibrate.add_argument("--noise", type=Path, nargs="+", default=[], metavar="FILE",
                           help="more noise recordings to place the sounds over")
    calibrate.add_argument("--seed", type=int, default=0, help="random seed of the stream (default: 0)")
    calibrate.add_argument("--no-save", action="store_true", help="only report; keep the project's setting")
    calibrate.add_argument("--json", action="store_true", help="print one JSON object")
    calibrate.set_defaults(func=cmd_calibrate)

    data_map = subparsers.add_parser(
        "map", help="every sample in 2-D, and the samples that look wrong",
        description="Project every sample to 2-D (PCA of the model's embedding, or of log-mel statistics) "
                    "and list suspects: samples whose nearest neighbours are mostly of another class, "
                    "near-silent samples and near-duplicates.")
    argtypes.add_project_dir(data_map)
    data_map.add_argument("--json", action="store_true", help="print one JSON object")
    data_map.set_defaults(func=cmd_map)


# ---------------------------------------------------------------- calibrate


def cmd_calibrate(args: argparse.Namespace) -> int:
    from core.calibrate import CalibrationError, calibrate_project
    from core.project import Project
    from earshot.commands.live import cancel_on_interrupt

    project = Project.open(args.dir)
    progress = Progress(sys.stderr)
    with cancel_on_interrupt() as cancel:
        try:
            result = calibrate_project(project, minutes=args.minutes, seed=args.seed, noise_files=args.noise,
                                       save=not args.no_save, on_progress=progress.show, cancel=cancel)
        except CalibrationError:
            progress.done()
            if not cancel.is_set():
                raise
            print("earshot: calibration cancelled; the project is unchanged", file=sys.stderr)
            return 130
    progress.done()
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(curve_chart(result))
    print(table(result))
    rec, now, default = result.recommended, result.current, result.default
    print(f"\nstream: {result.stream_seconds / 60:.1f} min, {result.sounds} sounds, {result.windows} windows "
          f"(seed {result.seed}), {result.seconds_taken:.1f} s")
    print(f"rule: {result.rule}")
    differs = (default.threshold, default.smooth) != (now.threshold, now.smooth)
    rows = [("default", default)] if differs else []
    for name, outcome in [*rows, ("current", now), ("recommended", rec)]:
        print(f"{name + ':':<12} threshold {outcome.threshold:g}, smoothing {outcome.smooth}: "
              f"{describe(outcome)}")
    if args.no_save:
        print("not saved (--no-save)")
    else:
        print(f"saved in {project.root}: earshot listen and the Validate tab now use it")
    return 0


def when_reported(delay_ms: float | None) -> str:
    """A mean delay in words: a report can come before the end of the sound (the decision is made on
    a window that already holds most of it), so the sign is spelled out."""
    if delay_ms is None:
        return "never reported"
    if round(delay_ms) < 0:
        return f"reported {-delay_ms:.0f} ms before the end"
    return f"reported {delay_ms:.0f} ms after the end"


def describe(outcome: Any) -> str:
    return (f"{outcome.false_per_hour:.1f} false activations/hour ({outcome.confusions} during other "
            f"sounds), {outcome.miss_rate:.1%} missed, {when_reported(outcome.delay_ms)}")


class Progress:
    """One status line on a terminal, rewritten in place; silent otherwise."""

    def __init__(self, out: Any) -> None:
        self.out, self.live, self.shown = out, out.isatty(), False

    def show(self, stage: str, fraction: float) -> None:
        if self.live:
            self.out.write(f"\r\x1b[2K{stage} {fraction:4.0%}")
            self.out.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            self.out.write("\r\x1b[2K")
            self.out.flush()


def curve_chart(result: Any, width: int = 78, height: int = 18) -> str:
    """Miss rate against false activations per hour, one line per smoothing, as a plotext chart."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    markers = MARKERS.replace(RECOMMENDED_MARKER, "")
    for n, smooth in enumerate(sorted({o.smooth for o in result.curve})):
        points = sorted((o.false_per_hour, 100 * o.miss_rate) for o in result.curve if o.smooth == smooth)
        plt.plot([p[0] for p in points], [p[1] for p in points], label=f"smooth {smooth}",
                 marker=markers[n % len(markers)])
    rec = result.recommended
    plt.scatter([rec.false_per_hour], [100 * rec.miss_rate], marker=RECOMMENDED_MARKER, label="recommended")
    plt.title("misses vs false activations (each point a threshold)")
    plt.xlabel("false activations per hour")
    plt.ylabel("% missed")
    chart = str(plt.build())
    plt.clear_figure()
    return chart if sys.stdout.isatty() else str(plt.uncolorize(chart))


def table(result: Any) -> str:
    """The settings on the trade-off frontier (no other setting has fewer false and fewer misses)."""
    rows = [o for o in result.curve
            if not any(p.false_per_hour <= o.false_per_hour and p.miss_rate <= o.miss_rate
                       and (p.false_per_hour, p.miss_rate) != (o.false_per_hour, o.miss_rate)
                       for p in result.curve)]
    current, chosen = result.current, result.recommended
    keep = {(o.threshold, o.smooth) for o in rows} | {(current.threshold, current.smooth),
                                                       (chosen.threshold, chosen.smooth),
                                                       (result.default.threshold, result.default.smooth)}
    shown = sorted((o for o in result.curve if (o.threshold, o.smooth) in keep),
                   key=lambda o: (o.false_per_hour, o.miss_rate, o.smooth, o.threshold))
    lines = [" threshold  smooth  false/hour  missed  after end", " " + "-" * 50]
    for o in shown:
        mark = []
        if (o.threshold, o.smooth) == (result.recommended.threshold, result.recommended.smooth):
            mark.append("recommended")
        if (o.threshold, o.smooth) == (result.current.threshold, result.current.smooth):
            mark.append("current")
        if (o.threshold, o.smooth) == (result.default.threshold, result.default.smooth):
            mark.append("default")
        delay = "-" if o.delay_ms is None else f"{o.delay_ms:.0f} ms"
        lines.append(f" {o.threshold:9.2f}  {o.smooth:6d}  {o.false_per_hour:10.1f}  {o.miss_rate:6.1%}  "
                     f"{delay:>9}  {', '.join(mark)}".rstrip())
    return "\n".join([*lines, f" {DELAY_NOTE}"])


# ---------------------------------------------------------------- listen --keep-to


def make_keeper(args: argparse.Namespace, is_project: bool) -> Any:
    """The --keep-to collector (checked before listening starts), or None."""
    if args.keep_to is None:
        if args.keep_max is not None:
            raise CaptureError("--keep-max needs --keep-to", "add --keep-to CLASS")
        return None
    if not is_project:
        raise CaptureError("--keep-to needs a project folder, not a model", "give the project folder")
    if args.keep_max is not None and args.keep_max < 1:
        raise CaptureError("--keep-max must be at least 1", "give --keep-max 1 or more")
    from core.project import Project

    project = Project.open(args.model)
    return Keeper(project, project.get_class(args.keep_to).name, args.keep_max)


class Keeper:
    """Keeps the window behind each decision as a sample of one class (listen --keep-to)."""

    def __init__(self, project: Any, class_name: str, limit: int | None) -> None:
        self.project, self.class_name, self.limit = project, class_name, limit
        self.kept: list[Any] = []
        self.recent: Any = None
        self.clip_samples = 0
        self.cancel: threading.Event | None = None

    def tap(self, source: Any, classifier: Any, cancel: threading.Event) -> Any:
        from core.keep import RecentAudio, TappedSource

        self.recent = RecentAudio(classifier.audio.sample_rate)
        self.clip_samples, self.cancel = classifier.audio.clip_samples, cancel
        return TappedSource(source, self.recent)

    def keep(self, decision: Any) -> None:
        from core.keep import keep_window

        if self.limit is not None and len(self.kept) >= self.limit:
            return
        self.kept.append(keep_window(self.project, self.class_name,
                                     self.recent.at_time(decision.time, self.clip_samples)))
        if self.limit is not None and len(self.kept) >= self.limit and self.cancel is not None:
            self.cancel.set()

    def summary(self) -> str:
        folder = self.project.samples_dir(self.project.get_class(self.class_name))
        where = folder.relative_to(self.project.root)
        limit = " (the --keep-max limit)" if self.limit is not None and len(self.kept) >= self.limit else ""
        return (f"kept {len(self.kept)} window{'s' if len(self.kept) != 1 else ''} as samples of "
                f"{self.class_name!r} in {where}{limit}; raw audio in recordings/{folder.name}")


# ---------------------------------------------------------------- map


def cmd_map(args: argparse.Namespace) -> int:
    from core.datamap import build_map
    from core.project import Project

    project = Project.open(args.dir)
    data_map = build_map(project)
    if args.json:
        print(json.dumps(data_map.to_dict(project.root)))
        return 0
    print(map_chart(data_map))
    print(f"{len(data_map.points)} samples, {len(data_map.labels)} classes; positions from {data_map.source}")
    if not data_map.suspects:
        print("no suspects: every sample sits with its class")
    else:
        print(f"{len(data_map.suspects)} suspects (listen to them; delete or move the wrong ones):")
        for suspect in data_map.suspects:
            print(f"  {suspect.path.relative_to(project.root)}  [{suspect.label}]  {suspect.reason}")
    return 0


def map_chart(data_map: Any, width: int = 78, height: int = 20) -> str:
    """The 2-D map as a plotext scatter, one marker per class."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    for n, label in enumerate(data_map.labels):
        xy = [(p.x, p.y) for p in data_map.points if p.label == label]
        if xy:
            plt.scatter([x for x, _ in xy], [y for _, y in xy], marker=MARKERS[n % len(MARKERS)], label=label)
    plt.title("Data map (suspects listed below)")
    chart = str(plt.build())
    plt.clear_figure()
    return chart if sys.stdout.isatty() else str(plt.uncolorize(chart))
