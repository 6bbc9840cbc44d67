"""The local (embedded) broker keeps its data across a quit and a restart (issue 11).

A real Tansu broker on a real SeaweedFS, both started by the product's own code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import tree_files, wait_until
from test_transfer import running

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.local_s3 import WEED_ENV, LocalS3
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.uploader import Uploader


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_restarted_local_broker_still_has_every_file_and_offset(
        tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    data = tmp_path / "local-broker"
    src, dest = tmp_path / "outbox", tmp_path / "inbox"
    src.mkdir()
    for i in range(6):
        (src / f"scan_{i}.bin").write_bytes(os.urandom(200_000 + i))
    broker = EmbeddedBroker(data_dir=data).start()
    pids = broker.pids
    assert len(pids) == 2
    try:
        config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
        admin.create_topic(config, "lab", partitions=1)
        uploader = Uploader(config, "lab", bus, registry, chunk_size=16_384)
        with running(uploader):
            for path in sorted(src.iterdir()):
                uploader.submit(src, path)
            assert uploader.wait_idle(60)
        # The destination gets part of it, then the app quits.
        first = Downloader(config, "lab", dest, bus, registry, group_id="inbox")
        with running(first):
            wait_until(lambda: first.files_received >= 1, message="a first file")
    finally:
        broker.stop()
    assert not any(_alive(pid) for pid in pids), "the broker or its storage outlived stop()"

    # Started again on the same folder (on another Kafka port): nothing was lost.
    with EmbeddedBroker(data_dir=data) as again:
        config = KafkaConfig.for_bootstrap(again.bootstrap_servers)
        assert not admin.create_topic(config, "lab", partitions=1)  # it is still there
        second = Downloader(config, "lab", dest, bus, registry, group_id="inbox")
        with running(second):
            wait_until(lambda: len(tree_files(dest)) == 6, message="every file after restart")
        # Committed offsets survived too: what the first run finished is not fetched again.
        assert second.files_received <= 6 - first.files_received
    assert tree_files(dest) == tree_files(src)


@pytest.mark.slow
def test_storage_left_running_by_an_earlier_run_is_stopped_first(tmp_path: Path) -> None:
    """A crash (or SIGKILL) of the app where the child does not die with it."""
    first = LocalS3(tmp_path / "storage").start()
    try:
        again = LocalS3(tmp_path / "storage").start()  # the same folder, the next start
        try:
            assert first._proc is not None
            assert first._proc.wait(10) is not None  # the leftover was stopped
            assert again.running
            assert again.access_key == first.access_key  # the keys made once are kept
        finally:
            again.stop()
    finally:
        first.stop()


def test_storage_that_cannot_start_is_one_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEED_ENV, "/bin/false")
    broker = EmbeddedBroker(data_dir=tmp_path / "local-broker")
    with pytest.raises(RuntimeError, match="the local broker's storage could not start") as err:
        broker.start()
    assert "\n" not in str(err.value)
    assert "move that folder away" in str(err.value)
    assert not broker.running
