"""What reporting to the lab overview costs a job's working thread (no broker).

A job's loop calls ``Reporter.tick()`` on every turn (the uploader's every 50 ms
poll, the consumer's every batch); this prints what a tick costs when nothing is
due, what one heartbeat costs (state, free space, JSON, produce), and what the
log ring costs per WARNING line kept and per INFO line it skips.

    python benchmarks/heartbeats.py
    python benchmarks/heartbeats.py --n 200000
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from typing import Any, cast

from confluent_kafka import Producer

from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.heartbeats import JobReporting, Reporter, ReportTarget
from openmsi_gui.engine.job_tally import TransferCounts
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.kafka_log import LogRing
from openmsi_gui.engine.lab_wire import ReportKind


class NullProducer:
    """Takes every message and acknowledges it at once."""

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        on_delivery(None, None)

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return 0


def per_call(fn: Any, n: int) -> float:
    """Microseconds per call of ``fn``, the best of three runs of ``n`` calls."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="calls per measurement")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    clock = [0.0]
    target = ReportTarget(heartbeat_topic="beats", heartbeat_program_id="pc_watch",
                          heartbeat_interval=60, host="pc")
    counts = TransferCounts()
    reporter = Reporter(JobReporting(target, "outbox", "f00"), ReportKind.WATCH, folder, counts,
                        EventBus(), "watch", clock=lambda: clock[0])
    reporter.start(cast(Producer, NullProducer()), KafkaConfig.for_bootstrap("b:1"))
    print(f"tick, nothing due:       {per_call(reporter.tick, args.n):8.2f} µs")

    def beat() -> None:
        clock[0] += 60
        reporter.tick()

    print(f"tick with a heartbeat:   {per_call(beat, args.n // 20):8.2f} µs")
    print(f"counting one message:    {per_call(lambda: counts.produced(524_500), args.n):8.2f} µs")
    reporter.stop()
    ring = LogRing()
    ours = logging.LogRecord("openmsi_gui.engine.link", logging.WARNING, __file__, 1,
                             "%s: broker unreachable: %s", ("watch", "x" * 120), None)
    other = logging.LogRecord("openmsi_gui.engine.uploader", logging.INFO, __file__, 1,
                              "routine", None, None)
    print(f"ring, a WARNING kept:    {per_call(lambda: ring.handle(ours), args.n):8.2f} µs")
    print(f"ring, an INFO skipped:   {per_call(lambda: ring.handle(other), args.n):8.2f} µs")


if __name__ == "__main__":
    main()
