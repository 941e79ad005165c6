"""`earshot extract`, `earshot import` and `earshot export-samples`: getting clips in and out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.segment import MODES
from earshot.commands import argtypes

MAX_LISTED = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    extract = subparsers.add_parser(
        "extract", help="cut a recording into clips of a class (the raw recording is kept)",
        description="Keep RECORDING under recordings/ and cut it into clips: 'fixed' windows, or one "
                    "clip centred on each sound ('events'; default for every class but Background Noise).")
    extract.add_argument("dir", type=Path, help="project folder")
    extract.add_argument("class_name", metavar="CLASS", help="class the clips belong to")
    extract.add_argument("recording", type=Path, help="audio file (WAV, FLAC, OGG, MP3)")
    extract.add_argument("--mode", choices=MODES, help="fixed windows or centred sound events")
    extract.set_defaults(func=cmd_extract)

    upload = subparsers.add_parser(
        "import", help="import a sample zip, a folder or audio files",
        description="Import zips, folders or audio files, all or nothing. Top-level folder names become "
                    "classes (created when missing) unless --class is given; an earshot export maps back to "
                    "its class names. Clip-length files are stored unchanged, longer ones are extracted.")
    upload.add_argument("dir", type=Path, help="project folder")
    upload.add_argument("sources", type=Path, nargs="+", metavar="SOURCE", help="zip, folder or audio file")
    upload.add_argument("--class", dest="class_name", metavar="NAME", help="put everything in this class")
    upload.add_argument("--mode", choices=MODES, help="how long files are cut (default: by class)")
    upload.set_defaults(func=cmd_import)

    export = subparsers.add_parser(
        "export-samples", help="write class folders of WAV clips to a zip (Download Sample)")
    argtypes.add_project_dir(export)
    export.add_argument("--class", dest="classes", action="append", metavar="NAME",
                        help="only this class (repeat for more; default: all)")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.zip", help="zip to write")
    export.set_defaults(func=cmd_export)


def cmd_extract(args: argparse.Namespace) -> int:
    from core.audio import load
    from core.errors import AudioError
    from core.ingest import extract_recording
    from core.project import Project

    project = Project.open(args.dir)
    info = project.get_class(args.class_name)
    y = load(args.recording, project.audio.sample_rate)
    result = extract_recording(project, info, y, mode=args.mode, label=args.recording.stem)
    if not result.clips:
        raise AudioError(f"no usable clips in {args.recording.name}: {result.summary()}",
                         f"kept {result.recording}; record again louder, or try --mode fixed")
    print(f"{info.name}: {result.summary()}")
    count = project.sample_count(info)
    print(f"kept the recording as {result.recording}; {info.name} now has {count} samples")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from core.ingest import import_samples
    from core.project import Project

    project = Project.open(args.dir)
    progress = _progress_line if sys.stderr.isatty() else None
    try:
        report = import_samples(project, args.sources, class_name=args.class_name, mode=args.mode,
                                on_progress=progress)
    finally:
        if progress is not None:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    print(report.summary())
    for note in report.notes[:MAX_LISTED]:
        print(f"  {note}")
    if len(report.notes) > MAX_LISTED:
        print(f"  ... and {len(report.notes) - MAX_LISTED} more recordings")
    if report.skipped:
        count = len(report.skipped)
        print(f"skipped {count} file{'' if count == 1 else 's'}:", file=sys.stderr)
        for line in report.skipped[:MAX_LISTED]:
            print(f"  {line}", file=sys.stderr)
        if len(report.skipped) > MAX_LISTED:
            print(f"  ... and {len(report.skipped) - MAX_LISTED} more", file=sys.stderr)
    return 0


def _progress_line(done: int, total: int, label: str) -> None:
    if done == total or done % 25 == 1:
        print(f"\rreading {done}/{total}: {label[-60:]}\033[K", end="", file=sys.stderr, flush=True)


def cmd_export(args: argparse.Namespace) -> int:
    from core.project import Project
    from core.samplezip import export_samples

    result = export_samples(Project.open(args.dir), args.output, classes=args.classes)
    print(result.summary())
    return 0
