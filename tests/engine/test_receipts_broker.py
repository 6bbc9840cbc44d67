"""Integration tests: a destination produces signed receipts on ``<topic>.receipts`` (real broker).

One single-partition topic and one Downloader (a group join costs seconds):
good files, a file whose chunks do not add up to its SHA-512 and an unsafe
name go in first; a good file sent again comes after. The receipts are read
back from the broker and verified with the destination's pairing code only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from helpers import chunks_of, produce_chunks, wait_until

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity, parse_pairing_code
from openmsi_gui.engine.receipts import (
    UNKNOWN_SIZE,
    FileIdentity,
    Receipt,
    ReceiptStatus,
    Rejection,
    open_receipt,
    trusted,
)
from openmsi_gui.engine.registry import Registry

GOOD = {"a.txt": b"alpha" * 100, "sub/b.bin": bytes(range(256)) * 20}
MISMATCH = "bad/mismatch.bin"
UNSAFE = "../escape.txt"
MTIME = 1_700_000_123.0


@dataclasses.dataclass
class Outcome:
    dest: Path
    identity: SigningIdentity
    topic: str
    receipts: list[Receipt | Rejection]


def read_all(config: KafkaConfig, topic: str, identity: SigningIdentity, count: int
             ) -> list[Receipt | Rejection]:
    """Every message of ``topic`` opened with ``identity``'s pairing code, once ``count`` are."""
    trust = trusted(parse_pairing_code(identity.public.pairing_code()))
    consumer = Consumer({**config.consumer_settings(f"r-{uuid.uuid4().hex[:8]}"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    found: list[Receipt | Rejection] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            for message in consumer.consume(10, timeout=0.5):
                if message.error() is None:
                    found.append(open_receipt(message.value(), trust))
    finally:
        consumer.close()
    return found


@pytest.fixture(scope="module")
def outcome(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
            ) -> Outcome:
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)
    root = tmp_path_factory.mktemp("receipts")
    dest = root / "inbox"
    registry = Registry(root / "registry.sqlite3")
    identity = SigningIdentity.generate(f"test-host:{dest}")
    mismatch = [dataclasses.replace(c, file_hash=hashlib.sha512(b"other").digest())
                for c in chunks_of(b"x" * 3000, MISMATCH, mtime=MTIME)]
    first = [c for relpath, data in GOOD.items() for c in chunks_of(data, relpath, mtime=MTIME)]
    produce_chunks(config, topic, [*first, *mismatch, *chunks_of(b"evil", UNSAFE)])
    downloader = Downloader(config, topic, dest, EventBus(), registry,
                            group_id=f"receipts-{uuid.uuid4().hex[:8]}",
                            receipts=ReceiptOptions(identity))
    downloader.start()
    try:
        wait_until(lambda: downloader.files_received == len(GOOD) or downloader.error,
                   timeout=60, message="the good files")
        produce_chunks(config, topic, chunks_of(GOOD["a.txt"], "a.txt", mtime=MTIME))
        receipts = read_all(config, f"{topic}.receipts", identity, len(GOOD) + 3)
    finally:
        downloader.stop()
        registry.close()
    assert downloader.error is None
    return Outcome(dest, identity, topic, receipts)


def receipts_for(outcome: Outcome, relpath: str) -> list[Receipt]:
    return [r for r in outcome.receipts if isinstance(r, Receipt) and r.relpath == relpath]


def test_every_receipt_verifies_with_the_pairing_code(outcome: Outcome) -> None:
    assert [r for r in outcome.receipts if isinstance(r, Rejection)] == []
    assert {r.destination for r in outcome.receipts if isinstance(r, Receipt)} == {
        outcome.identity.name}


@pytest.mark.parametrize("relpath", sorted(GOOD))
def test_stored_files_are_confirmed(outcome: Outcome, relpath: str) -> None:
    data = GOOD[relpath]
    receipt = receipts_for(outcome, relpath)[0]
    assert receipt.status is ReceiptStatus.STORED
    assert receipt.confirms(FileIdentity(outcome.topic, relpath,
                                         hashlib.sha512(data).digest(), len(data)))
    assert receipt.stored_at == str(outcome.dest / relpath)
    assert receipt.mtime == MTIME
    assert receipt.reason == ""
    assert (outcome.dest / relpath).read_bytes() == data


def test_a_file_sent_again_is_confirmed_again(outcome: Outcome) -> None:
    again = receipts_for(outcome, "a.txt")
    assert len(again) == 2
    assert again[1].status is ReceiptStatus.STORED
    assert again[1].file == again[0].file
    assert again[1].stored_at == again[0].stored_at


def test_a_hash_mismatch_gets_a_failure_receipt(outcome: Outcome) -> None:
    (receipt,) = receipts_for(outcome, MISMATCH)
    assert receipt.status is ReceiptStatus.FAILED
    assert "does not match its SHA-512" in receipt.reason
    assert receipt.size == 3000
    assert receipt.stored_at == ""
    assert not (outcome.dest / MISMATCH).exists()


def test_an_unsafe_name_gets_a_failure_receipt(outcome: Outcome) -> None:
    (receipt,) = receipts_for(outcome, UNSAFE)
    assert receipt.status is ReceiptStatus.FAILED
    assert "unsafe file name" in receipt.reason
    assert receipt.size == UNKNOWN_SIZE
    assert receipt.confirms(FileIdentity(outcome.topic, UNSAFE, hashlib.sha512(b"evil").digest(),
                                         4))
