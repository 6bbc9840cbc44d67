"""How long ``openmsi audit`` takes on a long topic, and what it holds in memory.

Starts the embedded Tansu broker and fills a 3-partition topic with ``--files``
files of ``--chunks`` chunks of ``--kib`` KiB each (produced directly, with
OpenMSIStream keys and values), and its receipts topic with one signed sent
record and one signed STORED receipt per file (as a watched folder and a
destination would make them), plus some garbage. Then it runs the audit (the
report the CLI and the app build: both topics read to their ends, every receipt
verified) ``--rounds`` times and prints the time, the messages per second and
the peak resident memory of this process.

    python benchmarks/audit.py                      # 20,000 files of 1 x 4 KiB
    python benchmarks/audit.py --files 50000 --chunks 2 --kib 4
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import time
import uuid

from confluent_kafka import Producer

from openmsi_gui.app.audit import run_audit
from openmsi_gui.engine import admin, wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, seal_receipt, trusted
from openmsi_gui.engine.upload_types import partition_for


def fill(config: KafkaConfig, topic: str, files: int, chunks: int, kib: int,
         sender: SigningIdentity, destination: SigningIdentity) -> tuple[int, int]:
    """Produce the files' chunks and their receipts; return (data, receipt) message counts."""
    producer = Producer({**config.producer_settings(), "linger.ms": "50",
                         "queue.buffering.max.messages": "200000"})
    data = os.urandom(kib * 1024)
    chunk_hash = hashlib.sha512(data).digest()
    now = time.time()
    receipts = 0
    for i in range(files):
        relpath = f"run{i // 1000:03d}/scan_{i:06d}.tif"
        subdir, _, name = relpath.rpartition("/")
        file_hash = hashlib.sha512(f"{i}".encode()).digest()  # not checked by the audit
        size = chunks * len(data)
        for c in range(1, chunks + 1):
            value = wire.encode_chunk(wire.Chunk(name, file_hash, chunk_hash, (c - 1) * len(data),
                                                 c, chunks, subdir, "", data, now))
            _produce(producer, topic, wire.make_key(subdir, name, c, chunks).encode(), value,
                     partition_for(relpath, 3))
        for identity, status in ((sender, ReceiptStatus.SENT),
                                 (destination, ReceiptStatus.STORED)):
            receipt = Receipt(identity.name, topic, relpath, file_hash, size, now,
                              "" if status is ReceiptStatus.SENT else f"/srv/{relpath}", now,
                              status)
            _produce(producer, f"{topic}.receipts", b"k", seal_receipt(receipt, identity), 0)
            receipts += 1
        if i % 100 == 0:
            _produce(producer, f"{topic}.receipts", b"k", b"garbage", 0)
            receipts += 1
    assert producer.flush(120) == 0
    return files * chunks, receipts


def _produce(producer: Producer, topic: str, key: bytes, value: bytes, partition: int) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, partition=partition)
            return
        except BufferError:
            producer.poll(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--chunks", type=int, default=1)
    parser.add_argument("--kib", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
        topic = f"audit-{uuid.uuid4().hex[:8]}"
        admin.create_topic(config, topic, 3)
        admin.create_topic(config, f"{topic}.receipts", 1)
        sender = SigningIdentity.generate("instrument-pc:/data")
        destination = SigningIdentity.generate("lab-archive")
        start = time.monotonic()
        data_messages, receipt_messages = fill(config, topic, args.files, args.chunks,
                                               args.kib, sender, destination)
        print(f"filled {data_messages} chunks ({data_messages * args.kib / 1024:.0f} MiB) and "
              f"{receipt_messages} receipts in {time.monotonic() - start:.1f} s")
        filled_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        trust = trusted(sender.public, destination.public)
        times = []
        for _ in range(args.rounds):
            start = time.monotonic()
            report = run_audit(config, topic, trust, ["lab-archive"])
            times.append(time.monotonic() - start)
            assert report.summary.files == args.files, report.summary.text()
            assert report.summary.clean, report.summary.text()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        median = statistics.median(times)
        messages = data_messages + receipt_messages
        print(f"audit of {args.files} files: median {median:.2f} s of {args.rounds} "
              f"({', '.join(f'{t:.2f}' for t in times)}), "
              f"{messages / median:,.0f} messages/s, peak RSS {peak:.0f} MB (after filling: "
              f"{filled_peak:.0f} MB)")
        print(f"summary: {report.summary.text()}")


if __name__ == "__main__":
    main()
