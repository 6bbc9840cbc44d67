"""The download stages on their own, and the Downloader against a fake consumer.

No broker here: the consumer comes from the Downloader's consumer factory, so
these tests are about the stages (assembly, sinks, offsets), not about Kafka,
which tests/engine/test_transfer.py and the other integration tests exercise.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from helpers import Recorder, chunks_of, wait_until

from openmsi_gui.engine import wire
from openmsi_gui.engine.download import sinks
from openmsi_gui.engine.download.assembly import Incoming, temp_name
from openmsi_gui.engine.download.checkpoints import Offsets
from openmsi_gui.engine.download.finisher import Finisher
from openmsi_gui.engine.download.sinks import Finished, FinishOutcome, FolderSink
from openmsi_gui.engine.downloader import Downloader, RetryDelays
from openmsi_gui.engine.events import (
    EventBus,
    FileCompleted,
    FileFailed,
    FileWaiting,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry

TOPIC = "t"


class FakeMessage:
    """What the downloader reads of a confluent-kafka message."""

    def __init__(self, partition: int, offset: int, key: bytes, value: bytes) -> None:
        self._partition, self._offset, self._key, self._value = partition, offset, key, value

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> None:
        return None


class FakeConsumer:
    """One partition of messages, read in order; commits and seeks are recorded."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.messages: list[FakeMessage] = []
        self.position = 0
        self.commits: list[dict[int, int]] = []
        self.paused = False
        self._lock = threading.Lock()
        self._on_assign: Callable[..., None] | None = None
        self._on_revoke: Callable[..., None] | None = None

    def add(self, chunks: list[wire.Chunk]) -> None:
        with self._lock:
            for chunk in chunks:
                key = wire.make_key(chunk.subdir, chunk.filename, chunk.chunk_i, chunk.n_chunks)
                self.messages.append(FakeMessage(0, len(self.messages), key.encode(),
                                                 wire.encode_chunk(chunk)))

    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None,
                  on_lost: Any = None) -> None:
        self._on_assign, self._on_revoke = on_assign, on_revoke

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        if self._on_assign is not None:
            self._on_assign(self, [TopicPartition(TOPIC, 0)])
            self._on_assign = None
        with self._lock:
            if self.paused:
                batch = []
            else:
                batch = self.messages[self.position:self.position + num_messages]
                self.position += len(batch)
        if not batch:
            threading.Event().wait(min(timeout, 0.02))
        return batch

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0)]

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool = True) -> Any:
        self.commits.append({tp.partition: tp.offset for tp in offsets})
        return offsets

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused = True

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused = False

    def seek(self, partition: TopicPartition) -> None:
        with self._lock:
            self.position = partition.offset

    def close(self) -> None:
        if self._on_revoke is not None:
            self._on_revoke(self, [TopicPartition(TOPIC, 0)])

    def committed(self) -> int | None:
        return self.commits[-1].get(0) if self.commits else None


@pytest.fixture
def fake() -> FakeConsumer:
    return FakeConsumer({})


def _downloader(fake: FakeConsumer, dest: Path, bus: EventBus, registry: Registry,
                **kwargs: Any) -> Downloader:
    def factory(settings: dict[str, Any]) -> FakeConsumer:
        fake.settings = settings
        return fake

    return Downloader(KafkaConfig(), TOPIC, dest, bus, registry, group_id="g", job="d",
                      consumer_factory=factory, **kwargs)


def test_chunks_in_any_order_make_the_file_and_its_offsets_are_committed(
        fake: FakeConsumer, tmp_path: Path, bus: EventBus, recorder: Recorder,
        registry: Registry) -> None:
    data = os.urandom(10_000)
    chunks = chunks_of(data, "run/a.bin", chunk_size=1024)
    shuffled = chunks[:]
    random.Random(7).shuffle(shuffled)
    fake.add(shuffled + chunks[:2])  # and two duplicates
    down = _downloader(fake, tmp_path / "dest", bus, registry)
    down.start()
    try:
        wait_until(lambda: down.files_received == 1, message="the file")
        wait_until(lambda: fake.committed() == len(chunks) + 2, message="the offsets")
    finally:
        down.stop()
    assert fake.settings["group.id"] == "g"
    assert (tmp_path / "dest" / "run" / "a.bin").read_bytes() == data
    completed = recorder.of(FileCompleted)
    assert [(e.relpath, e.path) for e in completed] == [  # type: ignore[attr-defined]
        ("run/a.bin", str(tmp_path / "dest" / "run" / "a.bin"))]
    assert down.bytes_received == len(data)


def test_offsets_stay_at_the_first_chunk_of_an_unfinished_file(
        fake: FakeConsumer, tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    partial = chunks_of(os.urandom(3000), "partial.bin", chunk_size=1024)
    whole = chunks_of(b"complete", "whole.txt")
    fake.add(whole + partial[:2] + chunks_of(b"later", "later.txt"))
    down = _downloader(fake, tmp_path / "dest", bus, registry)
    down.start()
    try:
        wait_until(lambda: down.files_received == 2, message="the complete files")
    finally:
        down.stop()
    assert fake.committed() == 1  # the first message of partial.bin
    assert down.incomplete() == []  # forgotten on revoke; its chunks stay recorded
    record = registry.find_download(TOPIC, "g", str(tmp_path / "dest"), "partial.bin",
                                    partial[0].file_hash)
    assert record is not None
    assert registry.stored_chunks(record.id) == {1: (0, 1024), 2: (1024, 1024)}


def test_a_refused_rename_waits_with_the_injected_delay(
        fake: FakeConsumer, tmp_path: Path, bus: EventBus, recorder: Recorder,
        registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    refusals = [1]
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if refusals[0]:
            refusals[0] -= 1
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    fake.add(chunks_of(b"locked", "locked.txt"))
    down = _downloader(fake, tmp_path / "dest", bus, registry,
                       delays=RetryDelays(store=(0.05,)))
    down.start()
    try:
        wait_until(lambda: down.files_received == 1, timeout=10, message="placed on retry")
        assert fake.committed() is None or fake.committed() == 1
    finally:
        down.stop()
    waiting = recorder.of(FileWaiting)
    assert waiting
    assert "retrying in 0 s" in waiting[0].reason  # type: ignore[attr-defined]
    assert not recorder.of(FileFailed)


def _incoming(tmp_path: Path, data: bytes, download_id: int, name: str = "f.bin") -> Incoming:
    target = tmp_path / "dest" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    file_hash = hashlib.sha512(data).digest()
    temp = temp_name(target, file_hash)
    temp.write_bytes(data)
    inc = Incoming((name, file_hash), download_id, target, temp, 1, 0.0, {0: (0, len(data))})
    inc.size = len(data)
    inc.temp_id = (temp.stat().st_dev, temp.stat().st_ino)
    inc.hasher = None  # hashed again from the file
    return inc


def test_folder_sink_reports_done_only_when_flushed(tmp_path: Path, registry: Registry) -> None:
    reports: list[Finished] = []
    sink = FolderSink(tmp_path / "dest", True, registry, reports.append, "j")
    sink.start()
    download_id = registry.start_download(TOPIC, "g", sink.label, "f.bin", b"h" * 64, 1, 0.0,
                                          "temp")
    inc = _incoming(tmp_path, b"payload", download_id)
    assert not sink.has_current(inc)
    assert sink.place(inc) is FinishOutcome.PLACED
    assert inc.target.read_bytes() == b"payload"
    assert sink.has_current(inc)
    assert reports == []  # not durable before its folder is fsynced
    sink.flush()
    assert reports == [Finished(inc, FinishOutcome.DONE, path=str(inc.target),
                                local=str(inc.target))]


def test_folder_sink_fsyncs_a_prepared_file_again_only_if_it_was_truncated_since(
        tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[tuple[str, int]] = []
    real = sinks._fsync_file

    def counting(path: Path) -> int:
        size = real(path)
        synced.append((path.name, size))
        return size

    monkeypatch.setattr(sinks, "_fsync_file", counting)
    sink = FolderSink(tmp_path / "dest", True, registry, lambda f: None, "j")
    sink.start()
    kept = _incoming(tmp_path, b"payload", 1, "kept.bin")
    cut = _incoming(tmp_path, b"other payload", 2, "cut.bin")
    with cut.temp.open("ab") as handle:
        handle.write(b"stale bytes of an earlier try")  # verify() truncates them
    sink.prepare(kept)
    sink.prepare(cut)
    assert cut.synced is not None
    cut.synced.result()  # that fsync ran before the truncation
    os.truncate(cut.temp, cut.size)
    sink.place(kept)
    sink.place(cut)
    sink.close()
    assert sorted(synced) == sorted([(kept.temp.name, 7), (cut.temp.name, 13 + 29),
                                     (cut.temp.name, 13)])
    assert kept.target.read_bytes() == b"payload"
    assert cut.target.read_bytes() == b"other payload"


def test_folder_sink_refuses_to_start_on_a_missing_folder(tmp_path: Path,
                                                          registry: Registry) -> None:
    sink = FolderSink(tmp_path / "gone", False, registry, lambda f: None, "j")
    assert sink.missing() is not None
    with pytest.raises(FileNotFoundError, match="is not there"):
        sink.start()
    assert not (tmp_path / "gone").exists()


def test_offsets_commit_only_what_no_unfinished_file_needs() -> None:
    offsets = Offsets(TOPIC, "j")
    fake = FakeConsumer({})
    for partition, offset in [(0, 0), (0, 1), (0, 2), (1, 0)]:
        offsets.read(partition, offset)
    assert offsets.safe({0: 1}) == {0: 1, 1: 1}
    offsets.commit(fake, {0: 1})  # type: ignore[arg-type]
    offsets.commit(fake, {0: 1})  # type: ignore[arg-type]  # nothing changed: no commit
    assert fake.commits == [{0: 1, 1: 1}]
    rewind = offsets.rewind([FakeMessage(0, 1, b"", b""), FakeMessage(0, 2, b"", b"")])
    assert rewind == {0: 1}
    assert offsets.next == {0: 1, 1: 1}
    offsets.forget({0})
    assert offsets.safe({}) == {1: 1}


class _CountingSink(FolderSink):
    """A folder sink that counts its flushes (a new stage is a new class like this)."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_a_burst_of_finished_files_is_made_durable_in_one_flush(
        tmp_path: Path, registry: Registry) -> None:
    finisher = Finisher(tmp_path / "dest", registry, "j")
    sink = _CountingSink(tmp_path / "dest", True, registry, finisher.report, "j")
    finisher.attach(sink)
    sink.start()
    gate = threading.Event()
    finisher.pool.submit(gate.wait)  # hold the finisher thread while files complete
    files = []
    for i in range(3):
        data = f"file {i}".encode()
        download_id = registry.start_download(TOPIC, "g", sink.label, f"f{i}.bin",
                                              hashlib.sha512(data).digest(), 1, 0.0, "temp")
        inc = _incoming(tmp_path, data, download_id, f"f{i}.bin")
        files.append(inc)
        finisher.submit(inc)
    gate.set()
    finisher.drain()
    finisher.shutdown()
    sink.close()
    outcomes = finisher.outcomes()
    assert [(f.file, f.outcome) for f in outcomes] == [(inc, FinishOutcome.DONE) for inc in files]
    assert sink.flushes == 2  # once after the burst, once more for drain(): nothing left then
    assert all(inc.target.read_bytes() == f"file {i}".encode() for i, inc in enumerate(files))


def test_only_a_written_chunk_ends_a_wait_for_the_destination(
        fake: FakeConsumer, tmp_path: Path, bus: EventBus, recorder: Recorder,
        registry: Registry) -> None:
    """A rejected or already-settled message wrote nothing: the back-off goes on."""
    (tmp_path / "dest").mkdir()
    down = _downloader(fake, tmp_path / "dest", bus, registry)
    down._stall_attempts = 3  # waiting for the destination, fourth delay next
    down._process(b"\x00garbage", 0, 0, b"junk")
    assert down._stall_attempts == 3
    chunk = chunks_of(b"data", "a.txt")[0]
    down._process(wire.encode_chunk(chunk), 0, 1, b"a.txt")
    assert down._stall_attempts == 0
    assert [e.state for e in recorder.of(JobState)] == [  # type: ignore[attr-defined]
        JobStatus.RUNNING]  # once, after the chunk was written
    down._finisher.drain()
    down._assembly.close("d")
    down._finisher.shutdown()
    down._sink.close()


def test_the_consume_loop_can_wait_for_a_finisher_that_lags(
        tmp_path: Path, registry: Registry) -> None:
    finisher = Finisher(tmp_path / "dest", registry, "j")
    sink = FolderSink(tmp_path / "dest", True, registry, finisher.report, "j")
    finisher.attach(sink)
    sink.start()
    gate = threading.Event()
    finisher.pool.submit(gate.wait)
    for i in range(3):
        data = f"file {i}".encode()
        download_id = registry.start_download(TOPIC, "g", sink.label, f"f{i}.bin",
                                              hashlib.sha512(data).digest(), 1, 0.0, "temp")
        finisher.submit(_incoming(tmp_path, data, download_id, f"f{i}.bin"))
    assert finisher.wait_below(4, 0)
    assert not finisher.wait_below(3, 0.05)  # three are queued behind the gate
    gate.set()
    assert finisher.wait_below(1, 10)
    finisher.shutdown()
    sink.close()
    assert [f.outcome for f in finisher.outcomes()] == [FinishOutcome.DONE] * 3
