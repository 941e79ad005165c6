"""`earshot new`, `earshot info`, `earshot class add|rename|remove` and `earshot demo`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.project import Project, ProjectSummary
from core.spec import MIN_SAMPLES_PER_CLASS, AudioSpec
from earshot.commands import argtypes


def register(subparsers: argparse._SubParsersAction) -> None:
    new = subparsers.add_parser(
        "new", help="create a sound classification project",
        description="Create a project that classifies sounds: spoken words, music, machine noises or "
                    "anything else recorded in clips. It starts with the Background Noise class.")
    new.add_argument("dir", type=Path, help="folder to create the project in")
    new.add_argument("--name", help="project name (default: the folder's name)")
    new.add_argument("--sample-rate", type=argtypes.SAMPLE_RATE, default=AudioSpec.sample_rate,
                     help="Hz every clip is stored and classified at (default %(default)s)")
    new.add_argument("--clip-seconds", type=argtypes.CLIP_SECONDS, default=AudioSpec.clip_seconds,
                     help="length of one sample in seconds (default %(default)g)")
    new.add_argument("--min-samples", type=argtypes.MIN_SAMPLES, default=MIN_SAMPLES_PER_CLASS,
                     help=f"samples each class needs before training (default {MIN_SAMPLES_PER_CLASS})")
    new.set_defaults(func=cmd_new)

    info = subparsers.add_parser("info", help="classes, sample counts and readiness")
    argtypes.add_project_dir(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    klass = subparsers.add_parser("class", help="add, rename or remove a class")
    actions = klass.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="Add a Class")
    add.add_argument("dir", type=Path)
    add.add_argument("name")
    add.set_defaults(func=cmd_class_add)
    rename = actions.add_parser("rename", help="rename a class (its files stay put)")
    rename.add_argument("dir", type=Path)
    rename.add_argument("old")
    rename.add_argument("new")
    rename.set_defaults(func=cmd_class_rename)
    remove = actions.add_parser("remove", help="remove a class (its samples go to trash/)")
    remove.add_argument("dir", type=Path)
    remove.add_argument("name")
    remove.set_defaults(func=cmd_class_remove)

    demo = subparsers.add_parser("demo", help="create a ready demo project (Background Noise + 3 words)",
                                 description="Build a project from the recordings in sample_data/: "
                                             "Background Noise and the spoken words yes, no and stop. "
                                             "If DIR already is the demo project it is kept as it is.")
    demo.add_argument("--dir", type=Path, default=Path("demo-project"), help="where (default: demo-project)")
    demo.set_defaults(func=cmd_demo)


def cmd_new(args: argparse.Namespace) -> int:
    audio = AudioSpec(sample_rate=args.sample_rate, clip_seconds=args.clip_seconds)
    project = Project.create(args.dir, name=args.name, audio=audio, min_samples=args.min_samples)
    print(f"created {project.name} in {project.root} "
          f"({audio.sample_rate} Hz, {audio.clip_seconds:g} s clips)")
    print(f"next: record the room with: earshot record {project.root} 'Background Noise'")
    return 0


def format_summary(summary: ProjectSummary, min_samples: int) -> str:
    width = max(len(c.name) for c in summary.classes)
    lines = [f"{summary.name}: {summary.sample_rate} Hz, {summary.clip_seconds:g} s clips"]
    for c in summary.classes:
        filled = min(20, round(20 * c.samples / max(1, min_samples)))
        bar = "#" * filled + "." * (20 - filled)
        mark = "ok" if c.samples >= min_samples else f"needs {min_samples - c.samples} more"
        lines.append(f"  {c.name:<{width}}  {c.samples:>5} samples  {c.seconds:>7.1f} s  [{bar}] {mark}")
    lines.append("ready to train" if summary.ready else "not ready to train:")
    lines += [f"  - {p}" for p in summary.problems]
    lines += [f"  warning: {w}" for w in summary.warnings]
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    project = Project.open(args.dir)
    summary = project.summary()
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        print(format_summary(summary, project.min_samples))
    return 0


def cmd_class_add(args: argparse.Namespace) -> int:
    info = Project.open(args.dir).add_class(args.name)
    print(f"added class {info.name!r}")
    return 0


def cmd_class_rename(args: argparse.Namespace) -> int:
    project = Project.open(args.dir)
    old = project.get_class(args.old).name
    info = project.rename_class(args.old, args.new)
    print(f"renamed {old!r} to {info.name!r}")
    return 0


def cmd_class_remove(args: argparse.Namespace) -> int:
    trash = Project.open(args.dir).remove_class(args.name)
    print(f"removed {args.name!r}; its samples are kept in {trash}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import create_demo

    result = create_demo(args.dir, on_status=lambda line: print(f"  {line}"))
    project = result.project
    if not result.created:
        print(f"{project.root} is already the demo project; kept it as it is")
    else:
        print(f"created the demo project in {project.root}")
    print(format_summary(project.summary(), project.min_samples))
    print(f"next: earshot train {project.root}   or open the app: earshot tui {project.root}")
    return 0
