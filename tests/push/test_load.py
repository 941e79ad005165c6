"""100 decisions a second for a minute through the real broker, stalled for 5 s in the middle:
the queue stays bounded, memory does not grow, and every message that was sent arrives, in order."""

from __future__ import annotations

import pytest

from bench.push_load import run_load
from tests.fixtures.broker import Broker

pytestmark = [pytest.mark.hardware, pytest.mark.slow]

RATE, SECONDS, QUEUE, STALL = 100, 60, 64, 5.0


def test_a_minute_at_100_decisions_a_second(broker: Broker) -> None:
    assert broker.process is not None
    result = run_load(broker.url("siot/load"), rate=RATE, seconds=SECONDS, qos=1, queue_size=QUEUE,
                      warmup=10, stall_at=25, stall_seconds=STALL, broker_pid=broker.process.pid)
    print(result)
    assert result["decisions"] == RATE * SECONDS
    assert result["sent"] + result["dropped"] + result["lost"] == RATE * SECONDS
    assert result["lost"] == 0
    # Bounded: the queue filled up to its size while the broker was stalled, never beyond.
    assert result["max_queued"] == QUEUE
    assert result["max_queued_sampled"] <= QUEUE
    assert 0 < result["dropped"] <= STALL * RATE
    # Everything sent arrived at a separate subscriber, once each and in order.
    assert result["received"] == result["sent"]
    assert result["received_in_order"]
    # No memory growth between the end of the warm-up and the end of the minute.
    assert result["traced_growth_mb"] < 0.5
    assert result["rss_growth_mb"] < 16
