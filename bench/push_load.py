"""Push load: decisions at a fixed rate through a real mosquitto, with the broker stalled for a while.

    python -m bench push_load [--rate 100] [--seconds 60] [--qos 1] [--queue 64] [--stall-at 25]
                              [--stall 5] [--url mqtt://user:pass@host:port/topic]

Without --url it starts its own mosquitto (as the tests do) so it can also stall it (SIGSTOP) to show
the bounded queue at work. Reports messages sent/dropped/lost, the largest queue seen, what a separate
`mosquitto_sub` process received (and whether in order), the time publish() takes on the caller's
thread, and memory growth after the warm-up (tracemalloc and RSS).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import record
from core.infer import Decision
from core.push import MqttPublisher, PushSettings

LABELS = ("Background Noise", "yes", "no", "up", "down")


def rss_mb() -> float:
    """Current resident memory of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def start_subscriber(settings: PushSettings, out: Path, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """A `mosquitto_sub` process writing each message on a line of `out`, ready once it returns."""
    auth = ["-u", settings.username, "-P", settings.password]
    common = ["-h", settings.host, "-p", str(settings.port), *auth, "-t", settings.topic]
    with open(out, "wb") as handle:
        process = subprocess.Popen(["mosquitto_sub", *common, "-q", "1", "-i", f"load-sub-{os.getpid()}"],
                                   stdout=handle)
    deadline = time.monotonic() + timeout
    while b"ready" not in out.read_bytes():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("mosquitto_sub did not subscribe")
        subprocess.run(["mosquitto_pub", *common, "-m", "ready"], check=False, capture_output=True)
        time.sleep(0.1)
    return process


def run_load(
    url: str,
    *,
    rate: int = 100,
    seconds: float = 60.0,
    qos: int = 1,
    queue_size: int = 64,
    warmup: float = 10.0,
    stall_at: float | None = None,
    stall_seconds: float = 5.0,
    broker_pid: int | None = None,
) -> dict[str, Any]:
    """Publish `rate * seconds` distinct decisions on a fixed schedule; return what happened."""
    settings = PushSettings.from_url(url, qos=qos, on_change=False, queue_size=queue_size)
    folder = Path(tempfile.mkdtemp(prefix="earshot-push-load-"))
    subscriber = start_subscriber(settings, folder / "received.txt")
    total = int(rate * seconds)
    call_seconds = np.zeros(total)
    queued_max = 0
    stall = None if stall_at is None or broker_pid is None else (int(stall_at * rate),
                                                                 int((stall_at + stall_seconds) * rate))
    tracemalloc.start()
    publisher = MqttPublisher(settings).start()
    try:
        if not publisher.wait_connected(10):
            raise RuntimeError(f"cannot connect to {settings.display_url}")
        start = time.monotonic()
        traced0 = rss0 = 0.0
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if stall is not None and broker_pid is not None and i in stall:
                os.kill(broker_pid, signal.SIGSTOP if i == stall[0] else signal.SIGCONT)
            if i == int(warmup * rate):
                traced0, rss0 = tracemalloc.get_traced_memory()[0] / 1e6, rss_mb()
            scores = {label: (0.9 if label == LABELS[i % 5] else 0.025) for label in LABELS}
            decision = Decision(time=i / rate, label=f"d{i}", confidence=0.9, scores=scores)
            began = time.perf_counter()
            publisher.publish(decision)
            call_seconds[i] = time.perf_counter() - began
            if i % max(1, rate // 20) == 0:
                queued_max = max(queued_max, publisher.stats.queued)
        elapsed = time.monotonic() - start
        traced1, traced_peak = (v / 1e6 for v in tracemalloc.get_traced_memory())
        rss1 = rss_mb()
    finally:
        if stall is not None and broker_pid is not None:
            os.kill(broker_pid, signal.SIGCONT)
        publisher.wait_idle(15)
        stats = publisher.stop()
        tracemalloc.stop()
    received = _received(folder / "received.txt", stats.sent, subscriber)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "rate": rate,
        "seconds": seconds,
        "elapsed_seconds": round(elapsed, 2),
        "qos": qos,
        "queue_size": queue_size,
        "stalled_seconds": stall_seconds if stall is not None else 0,
        "decisions": total,
        "sent": stats.sent,
        "dropped": stats.dropped,
        "lost": stats.lost,
        "max_queued": stats.max_queued,
        "max_queued_sampled": queued_max,
        "received": len(received),
        "received_in_order": received == sorted(received) and len(set(received)) == len(received),
        "publish_call_ms_median": round(float(np.median(call_seconds)) * 1e3, 4),
        "publish_call_ms_p99": round(float(np.percentile(call_seconds, 99)) * 1e3, 4),
        "publish_call_ms_max": round(float(call_seconds.max()) * 1e3, 3),
        "traced_mb_after_warmup": round(traced0, 3),
        "traced_mb_at_end": round(traced1, 3),
        "traced_growth_mb": round(traced1 - traced0, 3),
        "traced_peak_mb": round(traced_peak, 3),
        "rss_mb_after_warmup": round(rss0, 1),
        "rss_mb_at_end": round(rss1, 1),
        "rss_growth_mb": round(rss1 - rss0, 1),
    }


def _received(path: Path, expected: int, subscriber: subprocess.Popen[bytes]) -> list[int]:
    """The decision numbers the subscriber wrote, once `expected` arrived or it went quiet."""
    numbers: list[int] = []
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 2.0:
        numbers = [int(m) for m in re.findall(rb"^d(\d+)$", path.read_bytes(), re.M)]
        if len(numbers) >= expected:
            break
        if len(numbers) != last:
            last, quiet_since = len(numbers), time.monotonic()
        time.sleep(0.1)
    subscriber.terminate()
    subscriber.wait(5)
    return numbers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench push_load", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100, help="decisions per second (default: 100)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default: 60)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    parser.add_argument("--queue", type=int, default=64, help="publisher queue size (default: 64)")
    parser.add_argument("--stall-at", type=float, default=25.0, help="stall the broker at this second")
    parser.add_argument("--stall", type=float, default=5.0, help="for this long (0: never)")
    parser.add_argument("--url", help="an existing broker (then it is not stalled)")
    args = parser.parse_args(argv)
    options = dict(rate=args.rate, seconds=args.seconds, qos=args.qos, queue_size=args.queue,
                   warmup=min(10.0, args.seconds / 4))
    if args.url:
        results = run_load(args.url, **options)  # type: ignore[arg-type]
    else:
        from tests.fixtures.broker import Broker

        folder = Path(tempfile.mkdtemp(prefix="earshot-bench-broker-"))
        broker = Broker(folder)
        broker.start()
        try:
            assert broker.process is not None
            stall = dict(stall_at=args.stall_at, stall_seconds=args.stall) if args.stall > 0 else {}
            results = run_load(broker.url("siot/load"), broker_pid=broker.process.pid,
                               **options, **stall)  # type: ignore[arg-type]
        finally:
            broker.stop()
            shutil.rmtree(folder, ignore_errors=True)
    record("push_load", results)
    return 0
