"""Files per second through a destination with a no-op command processor, and with none.

Starts the embedded Tansu broker, produces ``--files`` small files (``--size``
bytes each, one chunk) to a one-partition topic, then, for each mode, runs a
download destination (the engine's Downloader, as ``openmsi download`` does)
with a fresh consumer group into an empty folder until every file is stored and
(with a processor) processed:

* ``none``: no processor (files rebuilt, verified and stored);
* ``command``: ``true {path}`` after each file, the cheapest command there is
  (``python -c pass`` where there is no ``true``): what the child processes,
  the registry rows and the pool cost per file.

Figures: seconds from the destination's start to the last file (a group join
included), and files/s from the first file to the last (the steady rate).

    python benchmarks/processing.py --files 500 --size 4096
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from openmsi_gui.engine import admin, wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import CONSUMER_DEFAULTS, KafkaConfig
from openmsi_gui.engine.processing.api import ProcessorKind, ProcessorSpec
from openmsi_gui.engine.processing.stage import ProcessingOptions
from openmsi_gui.engine.registry import Registry


def noop_command() -> str:
    """``true {path}``, or this Python doing nothing where there is no ``true``."""
    program = shutil.which("true")
    if program:
        return shlex.join([program, "{path}"])
    return shlex.join([sys.executable, "-c", "pass", "{path}"])


def produce_files(config: KafkaConfig, topic: str, count: int, size: int) -> None:
    """``count`` files of ``size`` random bytes, one chunk each, as OpenMSIStream keys them."""
    producer = Producer({**config.producer_settings(), "linger.ms": "20"})
    for i in range(count):
        data = os.urandom(size)
        digest = hashlib.sha512(data).digest()
        chunk = wire.Chunk(f"f{i:04d}.bin", digest, digest, 0, 1, 1, f"run{i // 100}", "",
                           data, time.time())
        producer.produce(topic, key=wire.make_key(chunk.subdir, chunk.filename, 1, 1),
                         value=wire.encode_chunk(chunk), partition=0)
        producer.poll(0)
    if producer.flush(60):
        raise SystemExit("the files could not be produced")


@dataclass(frozen=True)
class Run:
    """One mode's figures."""

    mode: str
    total: float  # seconds from start to the last file done
    steady: float  # seconds from the first file done to the last

    def line(self, count: int) -> str:
        rate = (count - 1) / self.steady if self.steady > 0 else float("inf")
        return (f"{self.mode:8} {self.total:6.2f} s from start ({count / self.total:6.1f} "
                f"files/s), {rate:6.1f} files/s from the first file to the last")


def run_mode(mode: str, config: KafkaConfig, topic: str, count: int, work: Path,
             workers: int) -> Run:
    """Download every file of ``topic`` once with ``mode``'s processor; its figures."""
    options = None
    if mode == "command":
        options = ProcessingOptions(ProcessorSpec(ProcessorKind.COMMAND, noop_command(),
                                                  timeout=60), workers=workers)
    registry = Registry(work / f"{mode}.sqlite3")
    down = Downloader(config, topic, work / mode, EventBus(), registry,
                      group_id=f"bench-{mode}-{uuid.uuid4().hex[:6]}", processing=options)

    def done() -> int:
        if down.processing is not None:
            return down.processing.processed + down.processing.failed
        return down.files_received

    started = time.monotonic()
    first = 0.0
    down.start()
    try:
        while done() < count:
            if down.error is not None:
                raise SystemExit(f"{mode}: the download failed: {down.error}")
            if not first and done():
                first = time.monotonic()
            time.sleep(0.005)
        ended = time.monotonic()
        if down.processing is not None and down.processing.failed:
            raise SystemExit(f"{mode}: {down.processing.failed} files failed processing")
    finally:
        down.stop()
        registry.close()
    return Run(mode, ended - started, ended - (first or started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--workers", type=int, default=2, help="processing pool (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mode")
    args = parser.parse_args()
    CONSUMER_DEFAULTS.update({"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"})
    work = Path(tempfile.mkdtemp(prefix="procbench-"))
    try:
        with EmbeddedBroker() as broker:
            config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            admin.create_topic(config, topic, 1)
            produce_files(config, topic, args.files, args.size)
            print(f"{args.files} files of {args.size} bytes; no-op command: {noop_command()}; "
                  f"{args.workers} processing workers; {os.cpu_count()} CPUs")
            for round_ in range(args.rounds):
                for mode in ("none", "command"):
                    folder = work / f"{round_}"
                    folder.mkdir(exist_ok=True)
                    run = run_mode(mode, config, topic, args.files, folder, args.workers)
                    print(run.line(args.files), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
