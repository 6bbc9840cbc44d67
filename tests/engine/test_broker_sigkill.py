"""A persistent broker killed with SIGKILL mid-transfer and restarted loses nothing (issue 12).

Tansu on SeaweedFS, both started by the product's own code; the watch and the
download keep running through the outage and are never restarted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import tree_files, wait_until
from test_transfer import running

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import EventBus, FileFailed
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry


@pytest.mark.slow
def test_a_broker_killed_mid_transfer_and_restarted_loses_no_file(
        tmp_path: Path, registry: Registry) -> None:
    bus = EventBus()
    failed: list[object] = []
    bus.subscribe(lambda e: failed.append(e) if isinstance(e, FileFailed) else None)
    src, dest = tmp_path / "outbox", tmp_path / "inbox"
    src.mkdir()
    broker = EmbeddedBroker(data_dir=tmp_path / "local-broker").start()
    try:
        config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
        admin.create_topic(config, "lab", partitions=2)
        watch = WatchJob(config, src, WatchOptions("lab", stable_seconds=0.2,
                                                   chunk_size=65_536), bus, registry)
        download = DownloadJob(config, "lab", dest, bus, registry, group_id="inbox")
        with running(download, watch):  # type: ignore[arg-type]
            for i in range(20):
                (src / f"scan_{i:02}.bin").write_bytes(os.urandom(300_000 + i))
            wait_until(lambda: len(tree_files(dest)) >= 3, timeout=60,
                       message="the first files before the crash")
            broker.kill()  # SIGKILL: no flush, no goodbye
            for i in range(20, 30):  # written while the broker is down
                (src / f"scan_{i:02}.bin").write_bytes(os.urandom(300_000 + i))
            broker.start()  # the same port, the same data folder
            wait_until(lambda: tree_files(dest) == tree_files(src), timeout=120,
                       message="every file, with neither job restarted")
            assert watch.error is None
            assert download.error is None
    finally:
        broker.stop()
    assert len(tree_files(dest)) == 30
    assert not failed
