"""Integration tests: a watched folder follows its destinations' receipts (real broker).

One scenario per module (group joins cost seconds): a watch job sends three
files, a destination with receipts stores them, and the watch job's receipt
listener records them as delivered. Forged, unpaired and garbage messages on
the receipts topic are skipped; of two genuine receipts for one file, the one
the destination made last is what the registry keeps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Iterator

import msgpack
import pytest
from helpers import Recorder, produce_raw, wait_until

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import DeliveryStatus, EventBus, FileDelivery
from openmsi_gui.engine.jobs import WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipt_listener import DeliveryWatch
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, seal_receipt, trusted
from openmsi_gui.engine.registry import Registry

FILES = {"one.txt": b"first" * 50, "sub/two.bin": bytes(range(200)), "three.dat": b"3" * 999}


@dataclasses.dataclass
class Scenario:
    topic: str
    dest: SigningIdentity
    events: list[FileDelivery]
    book: DeliveryBook
    job: WatchJob
    log: str


def sha(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


@pytest.fixture(scope="module")
def scenario(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Scenario]:
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)
    root = tmp_path_factory.mktemp("deliveries")
    outbox = root / "outbox"
    for relpath, data in FILES.items():
        (outbox / relpath).parent.mkdir(parents=True, exist_ok=True)
        (outbox / relpath).write_bytes(data)
    dest = SigningIdentity.generate("archive")
    stranger = SigningIdentity.generate("archive")  # same name, not paired
    bus, recorder = EventBus(), Recorder()
    bus.subscribe(recorder)
    sender_registry = Registry(root / "sender.sqlite3")
    dest_registry = Registry(root / "dest.sqlite3")
    watch = DeliveryWatch(trusted(dest.public), f"g-{uuid.uuid4().hex[:8]}")
    job = WatchJob(config, outbox, WatchOptions(topic, upload_existing=True, stable_seconds=0.2,
                                               delivery=watch), bus, sender_registry)
    downloader = Downloader(config, topic, root / "inbox", EventBus(), dest_registry,
                            group_id=f"d-{uuid.uuid4().hex[:8]}", receipts=ReceiptOptions(dest))
    handler = _Capture()
    logging.getLogger("openmsi_gui.engine.receipt_listener").addHandler(handler)
    book = DeliveryBook(sender_registry)

    def delivered() -> list[FileDelivery]:
        return [e for e in recorder.of(FileDelivery) if isinstance(e, FileDelivery)]

    job.start()
    downloader.start()
    try:
        wait_until(lambda: len(delivered()) >= len(FILES) or job.error, timeout=60,
                   message="the deliveries")
        one = sha(FILES["one.txt"])
        hostile = [
            b"garbage \x00\xff",
            # A stranger's receipt under the paired destination's name.
            seal_receipt(Receipt("archive", topic, "one.txt", one, 250, 0.0, "", time.time(),
                                 ReceiptStatus.FAILED, "forged"), stranger),
            # The same, claiming the paired key id: the signature does not match.
            _claiming(seal_receipt(Receipt("archive", topic, "one.txt", one, 250, 0.0, "",
                                           time.time(), ReceiptStatus.FAILED, "forged"),
                                   stranger), dest.public.key_id),
            # Genuine, but about a file this sender never sent.
            seal_receipt(Receipt("archive", topic, "never-sent.txt", sha(b"x"), 1, 0.0, "/x",
                                 time.time(), ReceiptStatus.STORED), dest),
            # Genuine: three.dat failed there, then (later) it was stored.
            seal_receipt(Receipt("archive", topic, "three.dat", sha(FILES["three.dat"]), 999,
                                 0.0, "", time.time() + 100, ReceiptStatus.FAILED,
                                 "disk \x1b[31mred"), dest),
        ]
        produce_raw(config, f"{topic}.receipts", [(b"k", value) for value in hostile])
        wait_until(lambda: (job.listener is not None and job.listener.skipped >= 3
                   and len(delivered()) >= len(FILES) + 1) or job.error, timeout=30,
                   message="the hostile receipts to be handled")
    finally:
        downloader.stop()
        job.stop()
        logging.getLogger("openmsi_gui.engine.receipt_listener").removeHandler(handler)
        dest_registry.close()
    assert job.error is None
    scenario = Scenario(topic, dest, delivered(), book, job, "\n".join(handler.lines))
    yield scenario
    sender_registry.close()


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _claiming(value: bytes, key_id: str) -> bytes:
    header, payload = msgpack.unpackb(value)
    fields = msgpack.unpackb(header)
    fields[3] = key_id
    return bytes(msgpack.packb([msgpack.packb(fields), payload]))


@pytest.mark.parametrize("relpath", sorted(FILES))
def test_every_file_sent_is_delivered(scenario: Scenario, relpath: str) -> None:
    events = [e for e in scenario.events if e.relpath == relpath]
    assert events[0].status is DeliveryStatus.DELIVERED
    assert events[0].destination == "archive"
    assert events[0].sha512_hex == sha(FILES[relpath]).hex()
    assert events[0].where.endswith(relpath)


def test_the_registry_records_each_destination_word(scenario: Scenario) -> None:
    (one,) = scenario.book.of_file(scenario.topic, "one.txt", sha(FILES["one.txt"]))
    assert (one.destination, one.status, one.size) == ("archive", ReceiptStatus.STORED, 250)
    (three,) = scenario.book.of_file(scenario.topic, "three.dat", sha(FILES["three.dat"]))
    assert three.status is ReceiptStatus.FAILED  # the newer word (by the destination's clock)
    assert three.reason == "disk \x1b[31mred"


def test_a_failure_reason_from_a_receipt_is_escaped(scenario: Scenario) -> None:
    (failed,) = [e for e in scenario.events if e.status is DeliveryStatus.FAILED]
    assert failed.relpath == "three.dat"
    assert "\x1b" not in failed.reason
    assert "\x1b" not in scenario.log


def test_forged_unpaired_and_garbage_receipts_are_skipped(scenario: Scenario) -> None:
    assert scenario.job.listener is not None
    assert scenario.job.listener.skipped == 3
    assert "forged" not in [e.reason for e in scenario.events]
    assert [e for e in scenario.events if e.relpath == "never-sent.txt"] == []
    assert "not a receipt" in scenario.log
    assert "not paired here" in scenario.log
    assert "forged or altered" in scenario.log
