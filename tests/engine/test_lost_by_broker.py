"""A memory broker restarted empty mid-transfer: every lost file is Not confirmed, then repaired.

Real Tansu, restarted on its port with nothing in it while the destination was
down (as in issue 12: "105 of 201 files never arrived, and neither side said
anything"). The watched folder expects the destination, with a short deadline:
each lost file is announced as not confirmed; Send again repairs some by hand,
and after a restart of the watch job (which finds the rest again from its
registry alone) the automatic re-send repairs the others, until the audit of
the topics is clean.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from helpers import Recorder, tree_files, wait_until

from openmsi_gui.app.audit import run_audit
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.confirmation import Expectation, find_unconfirmed
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileCompleted,
    FileDelivery,
    FileUnconfirmed,
)
from openmsi_gui.engine.jobs import WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipt_listener import DeliveryWatch
from openmsi_gui.engine.receipts import receipts_topic, trusted
from openmsi_gui.engine.registry import Registry

DEADLINE = 2.0
FILES = {f"run/{i:02d}.dat": bytes([i]) * (1000 + i) for i in range(6)}


def _topics(config: KafkaConfig, topic: str) -> None:
    admin.create_topic(config, topic, 1)
    admin.create_topic(config, receipts_topic(topic), 1)


def test_files_lost_by_a_memory_broker_are_not_confirmed_then_repaired(
        own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    config = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)
    topic = f"t-{uuid.uuid4().hex[:12]}"
    _topics(config, topic)
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    outbox.mkdir()
    dest = SigningIdentity.generate("archive")
    bus, recorder = EventBus(), Recorder()
    bus.subscribe(recorder)
    registry = Registry(tmp_path / "sender.sqlite3")
    dest_registry = Registry(tmp_path / "dest.sqlite3")
    group = f"g-{uuid.uuid4().hex[:8]}"

    def watch_job(resend: bool) -> WatchJob:
        options = WatchOptions(topic, upload_existing=True, stable_seconds=0.2,
                               delivery=DeliveryWatch(trusted(dest.public), group),
                               expect=Expectation(("archive",), DEADLINE, resend))
        return WatchJob(config, outbox, options, bus, registry)

    def sent() -> set[str]:
        return {e.relpath for e in recorder.of(FileCompleted)
                if isinstance(e, FileCompleted) and e.direction is Direction.UPLOAD}

    def unconfirmed() -> set[str]:
        return {u.relpath for u in find_unconfirmed(registry, topic, str(outbox), ("archive",),
                                                    sent_before=1e12)}

    job = watch_job(resend=False)
    job.start()
    downloader: Downloader | None = None
    try:
        # The destination is down while every file is sent and acknowledged ...
        for relpath, data in FILES.items():
            (outbox / relpath).parent.mkdir(parents=True, exist_ok=True)
            (outbox / relpath).write_bytes(data)
        wait_until(lambda: sent() == set(FILES) or job.error, timeout=30, message="the sending")
        # ... then the memory broker restarts empty (its topics made again, as an admin would).
        own_broker.kill()
        own_broker.start()
        _topics(config, topic)
        downloader = Downloader(config, topic, inbox, EventBus(), dest_registry,
                                group_id=f"d-{uuid.uuid4().hex[:8]}",
                                receipts=ReceiptOptions(dest))
        downloader.start()

        # Every lost file is announced as not confirmed, with what to do.
        def announced() -> set[str]:
            return {e.relpath for e in recorder.of(FileUnconfirmed)}

        wait_until(lambda: announced() == set(FILES), timeout=30, message="Not confirmed")
        first = recorder.of(FileUnconfirmed)[0]
        assert isinstance(first, FileUnconfirmed)
        assert first.missing == ("archive",)
        assert not first.resending
        assert "Send again" in first.reason
        assert tree_files(inbox) == {}

        # Send again by hand repairs two of them.
        by_hand = sorted(FILES)[:2]
        for relpath in by_hand:
            job.send_again(relpath)
        wait_until(lambda: not unconfirmed() & set(by_hand), timeout=30,
                   message="the files sent again by hand to be confirmed")
        assert unconfirmed() == set(FILES) - set(by_hand)
        job.stop()

        # A restart finds the others again from the registry; --resend repairs them.
        recorder.events.clear()
        job = watch_job(resend=True)
        job.start()
        wait_until(lambda: not unconfirmed() or job.error, timeout=45,
                   message="the automatic re-sends to be confirmed")
        resent = [e for e in recorder.of(FileUnconfirmed) if isinstance(e, FileUnconfirmed)]
        assert {e.relpath for e in resent} == set(FILES) - set(by_hand)
        assert all(e.resending for e in resent)
        assert job.deadlines is not None
        assert job.deadlines.resent == len(resent)
        # The listener records a delivery, then publishes it: wait for the events too.
        wait_until(lambda: set(FILES) - set(by_hand) <= {
            e.relpath for e in recorder.of(FileDelivery)}, timeout=10, message="the deliveries")
        wait_until(lambda: tree_files(inbox) == FILES, timeout=10, message="every file stored")
        assert job.error is None
        # And the audit, which reads the topics (not this registry), is clean.
        report = run_audit(config, topic, trusted(dest.public), ["archive"])
        assert report.summary.files == len(FILES)
        assert report.summary.clean
    finally:
        if downloader is not None:
            downloader.stop()
        job.stop()
        registry.close()
        dest_registry.close()
