"""Engine classes take their Kafka clients from a factory, so these tests need no broker."""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder

from openmsi_gui.engine import admin, wire
from openmsi_gui.engine.events import EventBus, FileCompleted
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.upload_types import UploadError, UploadOutcome
from openmsi_gui.engine.uploader import Uploader

CONFIG = KafkaConfig.for_bootstrap("fake:9092")


def metadata(**partitions: int) -> types.SimpleNamespace:
    """What ``list_topics`` returns, for topics with these partition counts."""
    return types.SimpleNamespace(topics={
        name: types.SimpleNamespace(error=None, partitions=dict.fromkeys(range(count)))
        for name, count in partitions.items()})


def serving(client: object) -> Callable[[dict[str, Any]], Any]:
    """A client factory that always returns ``client``."""
    return lambda _settings: client


class FakeProducer:
    """Acknowledges every message at the next poll or flush."""

    def __init__(self, topics: types.SimpleNamespace) -> None:
        self.topics = topics
        self.sent: list[tuple[str, bytes, int]] = []
        self._pending: list[Callable[[Any, Any], None]] = []

    def list_topics(self, timeout: float = 0) -> types.SimpleNamespace:
        return self.topics

    def produce(self, topic: str, value: bytes, key: bytes, partition: int,
                on_delivery: Callable[[Any, Any], None]) -> None:
        self.sent.append((topic, value, partition))
        self._pending.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        pending, self._pending = self._pending, []
        for callback in pending:
            callback(None, None)
        return len(pending)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0

    def __len__(self) -> int:
        return len(self._pending)


def test_an_uploader_sends_through_a_fake_producer(
        tmp_path: Path, bus: EventBus, recorder: Recorder, registry: Registry) -> None:
    producer = FakeProducer(metadata(lab=3))
    (tmp_path / "scan.bin").write_bytes(b"x" * 10_000)
    uploader = Uploader(CONFIG, "lab", bus, registry, chunk_size=4096,
                        producer_factory=serving(producer))
    uploader.start()
    try:
        uploader.submit(tmp_path, tmp_path / "scan.bin")
        assert uploader.wait_idle(10)
    finally:
        uploader.stop()
    assert [r.outcome for r in uploader.results()] == [UploadOutcome.SENT]
    assert len(producer.sent) == 3
    assert len({partition for _, _, partition in producer.sent}) == 1
    chunk = wire.decode_chunk(producer.sent[0][1])
    assert chunk.filename == "scan.bin"
    assert [e.relpath for e in recorder.of(FileCompleted)] == ["scan.bin"]


def test_an_uploader_refuses_a_missing_topic(bus: EventBus, registry: Registry) -> None:
    uploader = Uploader(CONFIG, "lab", bus, registry,
                        producer_factory=serving(FakeProducer(metadata(other=1))))
    with pytest.raises(UploadError, match="does not exist"):
        uploader.start()


def test_admin_lists_topics_through_a_fake_client() -> None:
    fake = types.SimpleNamespace(list_topics=lambda timeout=0: metadata(lab=3,
                                                                        __consumer_offsets=50))
    assert admin.list_topics(CONFIG, admin_factory=serving(fake)) == {"lab": 3}
    assert admin.require_topic(CONFIG, "lab", admin_factory=serving(fake)) == 3
    with pytest.raises(admin.BrokerError, match="does not exist"):
        admin.require_topic(CONFIG, "gone", admin_factory=serving(fake))


def test_a_new_file_jumps_the_backlog_and_stopping_leaves_the_queue(
        tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    from openmsi_gui.engine.upload_types import Priority

    producer = FakeProducer(metadata(lab=1))
    for i in range(5):
        (tmp_path / f"old{i}.bin").write_bytes(b"o")
    (tmp_path / "new.bin").write_bytes(b"n")
    uploader = Uploader(CONFIG, "lab", bus, registry, workers=1,
                        producer_factory=serving(producer))
    uploader.start()
    try:
        uploader.pause()
        for i in range(5):
            uploader.submit(tmp_path, tmp_path / f"old{i}.bin", Priority.BACKLOG)
        uploader.submit(tmp_path, tmp_path / "new.bin", Priority.NEW)
        uploader.resume()
        assert uploader.wait_idle(10)
        order = [r.path.name for r in uploader.results()]
        assert order.index("new.bin") <= 1  # only the file already being read goes first
        uploader.pause()
        for i in range(5):
            uploader.submit(tmp_path, tmp_path / f"old{i}.bin", Priority.BACKLOG)
    finally:
        uploader.stop()
    assert len(uploader.results()) <= 7  # the queued backlog was left for the next start


def test_send_again_in_a_folder_given_through_a_link_keys_the_real_path(
        tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    from openmsi_gui.engine.jobs import WatchJob, WatchOptions

    real = tmp_path / "real"
    real.mkdir()
    (real / "a.dat").write_bytes(b"data")
    os.utime(real / "a.dat", (1_000_000_000, 1_000_000_000))  # old: queued at start
    link = tmp_path / "link"
    link.symlink_to(real)
    producer = FakeProducer(metadata(lab=1))
    job = WatchJob(CONFIG, link, WatchOptions("lab", upload_existing=True, stable_seconds=0.1),
                   bus, registry, producer_factory=serving(producer))
    job.start()
    try:
        assert job.uploader.wait_idle(10)
        first = registry.last_upload("lab", str(real), "a.dat")
        assert first is not None
        job.send_again("a.dat")
        assert job.uploader.wait_idle(10)
    finally:
        job.stop()
    again = registry.last_upload("lab", str(real), "a.dat")
    assert again is not None
    assert again.id != first.id  # the same file, sent again under the same key
    assert registry.last_upload("lab", str(link), "a.dat") is None


@pytest.mark.parametrize(("size", "ahead"), [(10_000, False), (10_000, True), (4096, False),
                                             (0, False), (100, False)])
def test_every_chunk_carries_its_own_and_the_files_hash(
        tmp_path: Path, bus: EventBus, registry: Registry, size: int, ahead: bool) -> None:
    """Chunk hashes made while sending, or with the file's hash during its window, are right."""
    import hashlib

    producer = FakeProducer(metadata(lab=1))
    data = os.urandom(size)
    path = tmp_path / "scan.bin"
    path.write_bytes(data)
    uploader = Uploader(CONFIG, "lab", bus, registry, chunk_size=4096,
                        producer_factory=serving(producer))
    uploader.start()
    try:
        if ahead:
            uploader.prehash(path)
        uploader.submit(tmp_path, path)
        assert uploader.wait_idle(10)
    finally:
        uploader.stop()
    chunks = [wire.decode_chunk(value) for _, value, _ in producer.sent]
    pieces = [data[i:i + 4096] for i in range(0, size, 4096)] or [b""]
    assert [c.data for c in chunks] == pieces
    assert {c.file_hash for c in chunks} == {hashlib.sha512(data).digest()}
    assert [c.chunk_hash for c in chunks] == [hashlib.sha512(p).digest() for p in pieces]
    assert {c.n_chunks for c in chunks} == {len(pieces)}
