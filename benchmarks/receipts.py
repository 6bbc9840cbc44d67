"""What delivery receipts cost a destination, and how soon the sender hears of a file.

Starts the embedded Tansu broker, sends ``--files`` files of ``--kib`` KiB once
(the uploader, as ``openmsi watch`` does), then rebuilds the whole topic
``--rounds`` times with receipts and as many times without, alternating, each
time into a fresh folder with a fresh consumer group. A round is timed from its
first file discovered to its last file stored (the group join is left out).
Then one more round with receipts runs while a receipt listener, as a watched
folder runs it, follows them (in this same process: on two machines it would
not share the CPU and the GIL with the destination): the delay from a receipt
being made (after the file is durable) to the sender's ``FileDelivery`` is
reported as p50 and p95.

    python benchmarks/receipts.py                  # 500 x 256 KiB, 3 rounds each
    python benchmarks/receipts.py --files 2000 --kib 16
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import (
    Event,
    EventBus,
    FileCompleted,
    FileDelivery,
    FileDiscovered,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipt_listener import DeliveryWatch, ReceiptListener
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, seal_receipt, trusted
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.uploader import Uploader


class Clock:
    """First discovery and last completion of one round's files."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.first = 0.0
        self.last = 0.0
        self.done = 0
        self.finished = threading.Event()

    def __call__(self, event: Event) -> None:
        if isinstance(event, FileDiscovered) and not self.first:
            self.first = time.perf_counter()
        elif isinstance(event, FileCompleted):
            self.done += 1
            if self.done == self.expected:
                self.last = time.perf_counter()
                self.finished.set()


def send(config: KafkaConfig, topic: str, folder: Path, registry: Registry) -> None:
    uploader = Uploader(config, topic, EventBus(), registry, job="send")
    uploader.start()
    try:
        for path in sorted(folder.iterdir()):
            uploader.submit(folder, path)
        uploader.wait_idle()
    finally:
        uploader.stop()


def one_round(config: KafkaConfig, topic: str, work: Path, files: int,
              receipts: ReceiptOptions | None) -> float:
    """Files per second of one full rebuild of the topic."""
    bus = EventBus()
    clock = Clock(files)
    bus.subscribe(clock)
    run = uuid.uuid4().hex[:8]
    registry = Registry(work / f"dest-{run}.sqlite3")
    downloader = Downloader(config, topic, work / f"inbox-{run}", bus, registry,
                            group_id=f"bench-{run}", receipts=receipts)
    downloader.start()
    try:
        if not clock.finished.wait(600):
            raise SystemExit(f"only {clock.done} of {files} files arrived in 10 minutes")
    finally:
        downloader.stop()
        registry.close()
    return files / (clock.last - clock.first)


def sealing_cost(identity: SigningIdentity, sealed: bool, count: int = 5000) -> float:
    """Microseconds to make one signed receipt (CPU on the destination's consume thread)."""
    receipt = Receipt(identity.name, "topic", "run-0001/scan_0001.tif", bytes(64), 262144,
                      1.7e9, "/srv/incoming/run-0001/scan_0001.tif", 1.7e9, ReceiptStatus.STORED)
    started = time.perf_counter()
    for _ in range(count):
        seal_receipt(receipt, identity, sealed)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--kib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="receipts-bench-"))
    outbox = work / "outbox"
    outbox.mkdir()
    for i in range(args.files):
        (outbox / f"f{i:05d}.bin").write_bytes(os.urandom(args.kib * 1024))
    identity = SigningIdentity.generate("bench-destination")
    delays: list[float] = []

    def delivered(event: Event) -> None:
        if isinstance(event, FileDelivery):
            delays.append(event.at - event.confirmed_at)

    with EmbeddedBroker() as broker:
        config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        admin.create_topic(config, topic, 3)
        sender = Registry(work / "sender.sqlite3")
        started = time.perf_counter()
        send(config, topic, outbox, sender)
        print(f"sent {args.files} x {args.kib} KiB in {time.perf_counter() - started:.1f} s",
              flush=True)
        rates: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.rounds * 2):
            with_receipts = i % 4 in (0, 3)  # ABBA: neither goes first every time
            rate = one_round(config, topic, work, args.files,
                             ReceiptOptions(identity) if with_receipts else None)
            rates[with_receipts].append(rate)
            print(f"round {i + 1}: {'with' if with_receipts else 'without'} receipts: "
                  f"{rate:.0f} files/s", flush=True)
        listener_bus = EventBus()
        listener_bus.subscribe(delivered)
        listener = ReceiptListener(config, topic, DeliveryWatch(
            trusted(identity.public), f"bench-sender-{uuid.uuid4().hex[:8]}"), sender,
            listener_bus, "sender")
        listener.start()
        try:
            time.sleep(5)  # it reads the receipts of the rounds above first
            delays.clear()
            rate = one_round(config, topic, work, args.files, ReceiptOptions(identity))
            print(f"with receipts, followed by the sender: {rate:.0f} files/s", flush=True)
            time.sleep(3)  # the last receipts reach the sender
        finally:
            listener.stop()
            sender.close()
    print(f"making one receipt: {sealing_cost(identity, False):.0f} us signed, "
          f"{sealing_cost(identity, True):.0f} us signed and sealed")
    with_r, without = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"\n{args.files} x {args.kib} KiB, median of {args.rounds}: "
          f"{without:.0f} files/s without receipts, {with_r:.0f} with "
          f"({(with_r - without) / without * 100:+.1f} %)")
    if delays:
        ordered = sorted(delays)
        p50 = ordered[len(ordered) // 2]
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(f"receipt made -> FileDelivery on the sender, {len(ordered)} receipts: "
              f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
