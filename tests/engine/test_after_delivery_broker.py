"""After delivery end to end: a real broker, real destinations signing receipts, one watch job.

The watch job expects two destinations, ``archive`` and ``backup``, and moves
confirmed files to an archive folder. While only ``archive`` runs (and forged
receipts in ``backup``'s name arrive), nothing is touched. A file rewritten
with the same size and mtime after it was sent is found out by its SHA-512:
it is sent again, never moved in its old version's place. Once ``backup``
runs too, every file is moved, the new folder left empty goes, the folder that
was there at the start stays.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import msgpack
import pytest
from helpers import produce_raw, wait_until

from openmsi_gui.engine import admin, after_delivery_actions
from openmsi_gui.engine.after_delivery import AfterAction, AfterDeliveryPolicy
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.jobs import WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipt_listener import DeliveryWatch
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, seal_receipt, trusted
from openmsi_gui.engine.registry import Registry

FILES = {"old/a.txt": b"a" * 300, "new/deeper/b.bin": bytes(range(256)) * 8,
         "same.txt": b"before"}


def sha(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def _claiming(value: bytes, key_id: str) -> bytes:
    header, payload = msgpack.unpackb(value)
    fields = msgpack.unpackb(header)
    fields[3] = key_id
    return bytes(msgpack.packb([msgpack.packb(fields), payload]))


def test_files_move_only_once_every_expected_destination_confirmed_them(
        broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(after_delivery_actions, "SOON_SECONDS", 0.2)
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)
    outbox, archive_dir = tmp_path / "outbox", tmp_path / "archived"
    (outbox / "old").mkdir(parents=True)
    archive_dir.mkdir()
    archive, backup = SigningIdentity.generate("archive"), SigningIdentity.generate("backup")
    stranger = SigningIdentity.generate("backup")  # backup's name, not paired
    registry = Registry(tmp_path / "sender.sqlite3")
    policy = AfterDeliveryPolicy(AfterAction.MOVE, archive_dir, 0.0, ("archive", "backup"))
    watch = DeliveryWatch({**trusted(archive.public), **trusted(backup.public)},
                          f"g-{uuid.uuid4().hex[:8]}")
    job = WatchJob(config, outbox, WatchOptions(topic, stable_seconds=0.2, delivery=watch,
                                                after_delivery=policy,
                                                watch_began=time.time() - 1),
                   EventBus(), registry)

    def destination(identity: SigningIdentity) -> Downloader:
        return Downloader(config, topic, tmp_path / identity.name, EventBus(),
                          Registry(tmp_path / f"{identity.name}.sqlite3"),
                          group_id=f"d-{uuid.uuid4().hex[:8]}",
                          receipts=ReceiptOptions(identity))

    book = DeliveryBook(registry)

    def confirmed_by(name: str, relpath: str, data: bytes) -> bool:
        return any(d.destination == name and d.status is ReceiptStatus.STORED
                   for d in book.of_file(topic, relpath, sha(data)))

    def two_more_passes() -> None:
        runner = job.after_delivery
        assert runner is not None
        start = runner.passes
        for n in (1, 2):  # the second starts after the first wake, whatever ran then
            runner.wake()
            wait_until(lambda n=n: runner.passes >= start + n, timeout=20, message="a pass")

    first = destination(archive)
    second = destination(backup)
    job.start()
    try:
        for relpath, data in FILES.items():
            (outbox / relpath).parent.mkdir(parents=True, exist_ok=True)
            (outbox / relpath).write_bytes(data)
        os.utime(outbox / "same.txt", (1_000_000, 1_000_000))
        first.start()
        wait_until(lambda: all(confirmed_by("archive", r, d) for r, d in FILES.items()),
                   timeout=60, message="archive's receipts")
        # Forged words in backup's name: an unpaired key, and backup's key id claimed.
        forged = [seal_receipt(Receipt("backup", topic, relpath, sha(data), len(data), 0.0,
                                       "/x", time.time(), ReceiptStatus.STORED), stranger)
                  for relpath, data in FILES.items()]
        produce_raw(config, f"{topic}.receipts",
                    [(b"k", v) for v in forged + [_claiming(v, backup.public.key_id)
                                                  for v in forged]])
        wait_until(lambda: job.listener is not None and job.listener.skipped >= 6,
                   timeout=30, message="the forged receipts to be skipped")
        # Rewritten after it was confirmed by one: same size and mtime, other content.
        (outbox / "same.txt").write_bytes(b"after!")
        os.utime(outbox / "same.txt", (1_000_000, 1_000_000))
        two_more_passes()
        assert all((outbox / relpath).exists() for relpath in FILES)  # backup has said nothing
        assert list(archive_dir.iterdir()) == []

        second.start()
        wait_until(lambda: not (outbox / "new").exists() and not (outbox / "same.txt").exists()
                   and not (outbox / "old" / "a.txt").exists(), timeout=60,
                   message="every file to be moved")
    finally:
        second.stop()
        first.stop()
        job.stop()
    try:
        assert (archive_dir / "old" / "a.txt").read_bytes() == FILES["old/a.txt"]
        assert (archive_dir / "new" / "deeper" / "b.bin").read_bytes() == FILES["new/deeper/b.bin"]
        assert (archive_dir / "same.txt").read_bytes() == b"after!"  # the version confirmed
        assert confirmed_by("backup", "same.txt", b"after!")
        assert (outbox / "old").is_dir()  # there when the watch began
        sent = [r for r in registry.history() if r.relpath == "same.txt"]
        assert len(sent) == 2  # sent again once its new content was found out
        assert [r.after_delivery for r in sent] == ["moved", ""]
        assert job.error is None
    finally:
        registry.close()



def test_an_archive_inside_the_folder_stops_the_job_from_starting(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)
    outbox = tmp_path / "outbox"
    (outbox / "done").mkdir(parents=True)
    (tmp_path / "link").symlink_to(outbox / "done")  # outside by its name, inside in fact
    registry = Registry(tmp_path / "sender.sqlite3")
    policy = AfterDeliveryPolicy(AfterAction.MOVE, tmp_path / "link", 0.0, ("archive",))
    job = WatchJob(config, outbox, WatchOptions(topic, after_delivery=policy), EventBus(),
                   registry)
    try:
        with pytest.raises(ValueError, match="outside the watched folder"):
            job.start()
        assert job.watcher._thread is None  # everything it started is stopped again
    finally:
        registry.close()
