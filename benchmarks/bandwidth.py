"""Bandwidth limits: the rate achieved against each limit, uploading and downloading.

Runs the engine in this process against an embedded (in-memory) Tansu broker. For each
limit (``--limits``, rclone's syntax, default ``2M,8M,off``):

* **upload**: an :class:`Uploader` paced by the limit sends ``--seconds`` worth of data at
  the limit (at least 16 MiB; 128 MiB for ``off``) as 4 MiB files; timed from the first
  submit until every chunk is acknowledged.
* **download**: the same files are produced to a fresh topic without a limit first, then a
  :class:`Downloader` paced by the limit rebuilds them; timed from the first byte written
  until the last (so joining the group is not counted).

It prints, per direction and limit, the payload moved, the seconds, the achieved MiB/s, the
achieved rate as a share of the limit, how often the limiter made the job wait, and the bytes
librdkafka itself sent or fetched over the network (its ``tx_bytes``/``rx_bytes`` statistics),
which shows whether the limit holds on the wire and not only in the application, and the
highest wire rate over any one second (bursts, e.g. librdkafka filling its fetch queue).

Run (from the repository root, with the project venv)::

    . .venv/bin/activate
    python benchmarks/bandwidth.py
    python benchmarks/bandwidth.py --limits 1M,4M --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from openmsi_gui.engine import admin
from openmsi_gui.engine.bandwidth import Limit, Pacer, Timetable
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import Direction, EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.uploader import Uploader

MiB = 1024 * 1024
FILE_SIZE = 4 * MiB


class WireBytes:
    """librdkafka's own count of bytes sent and received (its statistics callback)."""

    def __init__(self) -> None:
        self.tx = 0
        self.rx = 0
        self.samples: list[tuple[float, int]] = []  # (monotonic time, tx + rx)

    def on_stats(self, text: str) -> None:
        stats = json.loads(text)
        self.tx, self.rx = int(stats.get("tx_bytes", 0)), int(stats.get("rx_bytes", 0))
        self.samples.append((time.monotonic(), self.tx + self.rx))

    def peak(self, window: float = 1.0) -> float:
        """The most bytes per second over any ``window`` seconds (from 200 ms samples)."""
        best = 0.0
        for i, (t1, b1) in enumerate(self.samples):
            for t0, b0 in reversed(self.samples[:i]):
                if t1 - t0 >= window:
                    best = max(best, (b1 - b0) / (t1 - t0))
                    break
        return best

    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {**settings, "statistics.interval.ms": 200, "stats_cb": self.on_stats}


def make_files(folder: Path, total: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(FILE_SIZE)
    paths = []
    for i in range(max(1, total // FILE_SIZE)):
        path = folder / f"f{i:03d}.bin"
        path.write_bytes(block[i:] + block[:i])  # distinct contents, same size
        paths.append(path)
    return paths


def upload(config: KafkaConfig, topic: str, files: list[Path], registry: Registry,
           pacer: Pacer | None, wire: WireBytes | None = None) -> float:
    """Send ``files``; the seconds from the first submit until all are acknowledged."""
    factory: Callable[[dict[str, Any]], Producer] = (
        (lambda s: Producer(wire.settings(s))) if wire is not None else Producer)
    uploader = Uploader(config, topic, EventBus(), registry, job="bench-up",
                        producer_factory=factory, pacer=pacer)
    uploader.start()
    try:
        started = time.monotonic()
        for path in files:
            uploader.submit(path.parent, path)
        if not uploader.wait_idle(600):
            raise SystemExit("FAILED: the upload did not finish in 10 minutes")
        elapsed = time.monotonic() - started
        time.sleep(0.5)  # one more statistics report
    finally:
        uploader.stop()
    return elapsed


def download(config: KafkaConfig, topic: str, dest: Path, total: int, registry: Registry,
             pacer: Pacer | None, wire: WireBytes) -> tuple[float, int]:
    """Rebuild ``total`` bytes; the seconds from the first byte to the last, and bytes timed."""
    downloader = Downloader(config, topic, dest, EventBus(), registry,
                            group_id=f"bench-{uuid.uuid4().hex[:8]}", job="bench-down",
                            consumer_factory=lambda s: Consumer(wire.settings(s)), pacer=pacer)
    downloader.start()
    try:
        first_at, first_bytes = 0.0, 0
        deadline = time.monotonic() + 600
        while downloader.bytes_received < total:
            now = time.monotonic()
            if not first_at and downloader.bytes_received:
                first_at, first_bytes = now, downloader.bytes_received
            if now > deadline or downloader.error is not None:
                raise SystemExit(f"FAILED: the download stopped ({downloader.error})")
            time.sleep(0.01)
        elapsed = time.monotonic() - first_at
        time.sleep(0.5)
    finally:
        downloader.stop()
    return elapsed, total - first_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limits", default="2M,8M,off", help="comma-separated limits")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="data per limit: this many seconds at the limit")
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"in-memory Tansu; files of {FILE_SIZE // MiB} MiB, chunks of 512 KiB")
    rows = []
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
        registry = Registry(Path(tmp) / "registry.sqlite3")
        for text in args.limits.split(","):
            timetable = Timetable.parse(text)
            rate = Limit(timetable).rate(Direction.UPLOAD)
            total = max(16 * MiB, int((rate or 16 * MiB) * args.seconds))
            total -= total % FILE_SIZE
            files = make_files(Path(tmp) / f"src-{text}", total)
            for direction in Direction:
                pacer = Pacer(direction, [Limit(timetable)])
                topic = f"bw-{uuid.uuid4().hex[:8]}"
                admin.create_topic(config, topic, 3)
                wire = WireBytes()
                if direction is Direction.UPLOAD:
                    elapsed = upload(config, topic, files, registry, pacer, wire)
                    moved, network = total, wire.tx
                else:
                    upload(config, topic, files, registry, None)
                    elapsed, moved = download(config, topic, Path(tmp) / f"dst-{topic}", total,
                                              registry, pacer, wire)
                    network = wire.rx
                achieved = moved / elapsed / MiB
                share = f"{achieved * MiB / rate:6.0%}" if rate else "     -"
                rows.append(f"{direction.value:8} {text:>5}  {moved / MiB:7.0f}  {elapsed:6.2f}"
                            f"  {achieved:8.2f}  {share}  {pacer.waits:6d}  "
                            f"{network / MiB:8.1f}  {wire.peak() / MiB:8.1f}")
                print(rows[-1], flush=True)
        registry.close()
    print()
    print("direction limit  MiB     s       MiB/s   of limit waits  wire MiB  peak 1 s MiB/s")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bandwidth-benchmark"
    sys.exit(main())
