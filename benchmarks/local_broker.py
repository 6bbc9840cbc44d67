"""What the persistent local broker costs: start and stop time, and memory (issue 11).

Starts the embedded broker in memory (as before) and on its SeaweedFS storage
(as the app and the demo now do), a few times each, produces ``--mib`` MiB, and
prints the start time, the resident memory of each process idle and after the
writes, the stop time, and the time to start again on the same data folder.

    python benchmarks/local_broker.py [--runs 3] [--mib 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from confluent_kafka import Producer

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def produce(config: KafkaConfig, mib: int) -> float:
    """Produce ``mib`` 1 MiB messages; return MiB/s."""
    admin.create_topic(config, "bench", partitions=1)
    producer = Producer(config.producer_settings() | {"message.max.bytes": 2_000_000})
    block = b"x" * (1 << 20)
    started = time.monotonic()
    for _ in range(mib):
        while True:
            try:
                producer.produce("bench", value=block)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return mib / (time.monotonic() - started)


def one_run(data_dir: Path | None, mib: int) -> dict[str, float]:
    """Start, measure, write, measure, stop; then start again on the same folder."""
    started = time.monotonic()
    broker = EmbeddedBroker(data_dir=data_dir).start()
    figures = {"start_s": time.monotonic() - started}
    pids = broker.pids
    figures["idle_rss_mib"] = sum(rss_mib(p) for p in pids)
    figures["idle_storage_rss_mib"] = rss_mib(pids[1]) if len(pids) > 1 else 0.0
    figures["produce_mib_s"] = produce(KafkaConfig.for_bootstrap(broker.bootstrap_servers), mib)
    figures["loaded_rss_mib"] = sum(rss_mib(p) for p in pids)
    stopping = time.monotonic()
    broker.stop()
    figures["stop_s"] = time.monotonic() - stopping
    if data_dir is not None:
        restarting = time.monotonic()
        with EmbeddedBroker(data_dir=data_dir):
            figures["restart_s"] = time.monotonic() - restarting
    return figures


def main() -> None:
    """Print the figures, median of ``--runs``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=100)
    args = parser.parse_args()
    for label in ("memory (before)", "persistent (now)"):
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="openmsi-bench-broker-") as tmp:
                runs.append(one_run(Path(tmp) if label.startswith("persistent") else None,
                                    args.mib))
        print(f"{label}:")
        for key in runs[0]:
            print(f"  {key:22s} {statistics.median(r[key] for r in runs):8.2f}")


if __name__ == "__main__":
    main()
