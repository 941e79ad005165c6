"""Foundation speed and memory: extraction, imports and sample zips on the shared real recordings.

    python -m bench ingest            # all of GTZAN, all Speech Commands clips
    python -m bench ingest --quick    # a tenth of them

Prints and records (bench/results/ingest.json): seconds of audio extracted per second (events and
fixed), files imported per second for a folder of Speech Commands clips, export and re-import time
of the resulting zip, whether the round trip was identical, and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from bench.common import DATASETS, peak_rss_mb, record


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.wav"))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--quick", action="store_true", help="a tenth of the files")
    args = parser.parse_args(argv)
    from core.audio import load
    from core.ingest import import_samples
    from core.project import Project
    from core.samplezip import export_samples
    from core.segment import extract
    from core.spec import AudioSpec

    step = 10 if args.quick else 1
    audio = AudioSpec()
    tracks = sorted((DATASETS / "gtzan5").glob("*/*.wav"))[::step]
    loaded = [load(t, audio.sample_rate) for t in tracks]
    seconds = sum(y.size for y in loaded) / audio.sample_rate
    rates = {}
    for mode in ("fixed", "events"):
        start = time.perf_counter()
        clips = sum(len(extract(y, audio, mode=mode).clips) for y in loaded)
        rates[mode] = {"audio_seconds_per_second": round(seconds / (time.perf_counter() - start)),
                       "clips": clips}

    with tempfile.TemporaryDirectory() as tmp:
        upload = Path(tmp) / "upload"
        files = sorted((DATASETS / "speech_commands").glob("*/*.wav"))[::step]
        for f in files:  # a folder tree of links is what a user's unzipped download looks like
            (upload / f.parent.name).mkdir(parents=True, exist_ok=True)
            (upload / f.parent.name / f.name).write_bytes(f.read_bytes())
        first = Project.create(Path(tmp) / "first")
        start = time.perf_counter()
        report = import_samples(first, [upload])
        import_seconds = time.perf_counter() - start
        start = time.perf_counter()
        exported = export_samples(first, Path(tmp) / "all.zip")
        export_seconds = time.perf_counter() - start
        second = Project.create(Path(tmp) / "second")
        start = time.perf_counter()
        import_samples(second, [exported.path])
        reimport_seconds = time.perf_counter() - start
        identical = _digest(first.root / "samples") == _digest(second.root / "samples")
        zip_mb = exported.path.stat().st_size / 1e6

    record("ingest", {
        "extract": {"tracks": len(tracks), "audio_seconds": round(seconds, 1), **rates},
        "import_folder": {"files": len(files), "clips": report.total, "duplicates": report.duplicates,
                          "seconds": round(import_seconds, 2),
                          "files_per_second": round(len(files) / import_seconds)},
        "export_zip": {"seconds": round(export_seconds, 2), "megabytes": round(zip_mb, 1)},
        "reimport_zip": {"seconds": round(reimport_seconds, 2), "identical": identical},
        "peak_rss_mb": round(peak_rss_mb()),
    })
    return 0 if identical else 1
