"""The heartbeat reporter and the log ring with fake producers and a fake clock (no broker)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from confluent_kafka import KafkaError, Producer

from openmsi_gui.engine import kafka_log
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    EventBus,
    FileCompleted,
    FileFailed,
)
from openmsi_gui.engine.heartbeats import (
    JobReporting,
    Reporter,
    ReportTarget,
    separate_config,
)
from openmsi_gui.engine.job_tally import TransferCounts
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.kafka_log import REPORTED, LogRing, LogShipper
from openmsi_gui.engine.lab_wire import ReportedState, ReportKind, decode_heartbeat

Callback = Callable[[KafkaError | None, Any], None]


class FakeProducer:
    """Keeps what is produced, with its delivery callback, until told how it went."""

    def __init__(self, _settings: dict[str, Any] | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes, Callback]] = []
        self.full = False
        self.flushed = 0

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Callback) -> None:
        if self.full:
            raise BufferError("queue full")
        self.sent.append((topic, key, value, on_delivery))

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        self.flushed += 1
        return 0

    def deliver(self, index: int = -1, ok: bool = True) -> None:
        callback = self.sent[index][3]
        callback(None if ok else KafkaError(KafkaError._MSG_TIMED_OUT), None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_reporter(clock: Clock, bus: EventBus, log_topic: str = "") -> tuple[
        Reporter, TransferCounts, FakeProducer]:
    counts = TransferCounts()
    target = ReportTarget(heartbeat_topic="beats", heartbeat_program_id="pc_watch",
                          heartbeat_interval=10, log_topic=log_topic,
                          log_program_id="pc_watch", log_interval=10, host="pc")
    reporter = Reporter(JobReporting(target, "outbox", "f00"), ReportKind.WATCH, "",
                        counts, bus, "watch", clock=clock)
    producer = FakeProducer()
    reporter.start(cast(Producer, producer), KafkaConfig.for_bootstrap("b:1"))
    return reporter, counts, producer


def test_beats_count_since_the_previous_one_and_a_lost_beat_counts_in_the_next() -> None:
    clock, bus = Clock(), EventBus()
    reporter, counts, producer = make_reporter(clock, bus)
    reporter.tick()
    assert not producer.sent  # not due yet
    counts.produced(100)
    clock.now += 10
    reporter.tick()
    assert len(producer.sent) == 1
    counts.produced(50)
    clock.now += 10
    reporter.tick()  # the first is still on its way: skipped, its counts wait
    assert len(producer.sent) == 1
    assert reporter.beats_skipped == 1
    producer.deliver(0, ok=False)  # lost: its 100 bytes go into the next
    clock.now += 10
    reporter.tick()
    producer.deliver(1)
    counts.produced(7)
    reporter.stop()  # the final beat
    beats = [decode_heartbeat(key, value) for _t, key, value, _cb in producer.sent]
    assert [b.delta.bytes_produced for b in beats if b] == [100, 150, 7]
    delivered = [beats[1], beats[2]]
    assert sum(b.delta.bytes_produced for b in delivered if b) == 157
    last = beats[-1]
    assert last is not None
    assert last.totals is not None
    assert last.totals.bytes_produced == 157
    assert producer.flushed == 0  # the job's own producer: the job flushes it


def test_a_full_queue_skips_the_beat_and_never_raises() -> None:
    clock, bus = Clock(), EventBus()
    reporter, counts, producer = make_reporter(clock, bus)
    producer.full = True
    counts.produced(10)
    clock.now += 10
    reporter.tick()
    assert reporter.beats_skipped == 1
    producer.full = False
    clock.now += 10
    reporter.tick()
    beat = decode_heartbeat(producer.sent[0][1], producer.sent[0][2])
    assert beat is not None
    assert beat.delta.bytes_produced == 10


def test_the_state_follows_the_jobs_events() -> None:
    clock, bus = Clock(), EventBus()
    reporter, counts, producer = make_reporter(clock, bus)
    bus.publish(ConnectionState("watch", ConnectionStatus.UNREACHABLE, servers="b:1"))
    bus.publish(ConnectionState("other job", ConnectionStatus.CONNECTED))
    bus.publish(FileFailed("watch", Direction.UPLOAD, "a.txt", "unreadable"))
    beat = reporter.heartbeat(counts.snapshot())
    assert beat.state is ReportedState.NEEDS_ATTENTION
    assert beat.problem == "Cannot reach the broker at b:1"
    assert beat.files_failed == 1
    bus.publish(ConnectionState("watch", ConnectionStatus.CONNECTED, down_since=1.0))
    bus.publish(FileCompleted("watch", Direction.UPLOAD, "a.txt", 5, "00", 0.1))
    beat = reporter.heartbeat(counts.snapshot())
    assert (beat.state, beat.problem, beat.files_failed) == (ReportedState.WORKING, "", 0)
    assert beat.last_file == "a.txt"
    reporter.stop()
    bus.publish(FileFailed("watch", Direction.UPLOAD, "b.txt", "x"))  # not followed any more
    assert reporter.tally.failed == 0
    assert producer.sent  # the final beat


def test_a_config_section_naming_a_broker_gets_a_producer_of_its_own() -> None:
    base = KafkaConfig(broker={"bootstrap.servers": "data:9092", "security.protocol": "SSL"})
    assert separate_config(base, "heartbeat") is None
    base.sections["heartbeat"] = {"bootstrap.servers": "lab:9092"}
    other = separate_config(base, "heartbeat")
    assert other is not None
    assert other.broker == {"bootstrap.servers": "lab:9092"}
    base.sections["log"] = {"prefer.separate.producer": "true", "max.logs.per.message": "9"}
    own = separate_config(base, "log")
    assert own is not None
    assert own.broker == base.broker
    made: list[FakeProducer] = []

    def factory(settings: dict[str, Any]) -> Producer:
        made.append(FakeProducer(settings))
        return cast(Producer, made[-1])

    target = ReportTarget(heartbeat_topic="beats", heartbeat_program_id="p",
                          heartbeat_config=other, host="pc")
    reporter = Reporter(JobReporting(target, "j"), ReportKind.DOWNLOAD, "", TransferCounts(),
                        EventBus(), "j", producer_factory=factory)
    reporter.start(cast(Producer, FakeProducer()), base)
    reporter.stop()
    assert len(made) == 1
    assert made[0].sent  # the final beat went through the lab's producer
    assert made[0].flushed == 1  # flushed (briefly) at stop: it is the reporter's own


@pytest.fixture
def ring() -> LogRing:
    ring = LogRing(size=5)
    ring.setLevel(logging.NOTSET)
    return ring


def record(name: str, level: int, text: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, text, None, None)
    made.__dict__.update(extra)
    return made


def test_the_ring_keeps_our_warnings_and_marked_lines_bounded(ring: LogRing) -> None:
    ring.handle(record("openmsi_gui.engine.link", logging.WARNING, "broker unreachable: x"))
    ring.handle(record("openmsi_gui.librdkafka", logging.ERROR, "FAIL boom"))
    ring.handle(record("openmsi", logging.WARNING, "cli warning"))
    ring.handle(record("openmsi_gui.engine.link", logging.INFO, "routine"))
    ring.handle(record("openmsi_gui.engine.link", logging.INFO, "back", **REPORTED))
    ring.handle(record("urllib3", logging.ERROR, "not ours"))
    ring.handle(record("openmsi_guix", logging.ERROR, "not ours either"))
    lines, newest, lost = ring.after(0)
    assert [line.rsplit(": ", 1)[-1] for line in lines] == [
        "x", "FAIL boom", "cli warning", "back"]
    assert (newest, lost) == (4, 0)
    for i in range(7):
        ring.handle(record("openmsi_gui.x", logging.WARNING, f"flood {i}"))
    lines, newest, lost = ring.after(4)
    assert len(lines) == 5
    assert lost == 2


def test_log_lines_wait_for_the_broker_and_go_once(ring: LogRing,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_log, "_channels", {})
    monkeypatch.setattr(kafka_log, "install_ring", lambda: ring)
    clock = Clock()
    producer = FakeProducer()
    one = LogShipper(cast(Producer, producer), "logs", "pc", 10, "b:1", "pc", clock)
    two = LogShipper(cast(Producer, producer), "logs", "pc", 10, "b:1", "pc", clock)
    one.tick(clock())
    assert not producer.sent  # nothing new: nothing sent
    ring.handle(record("openmsi_gui.a", logging.WARNING, "first"))
    one.tick(clock())  # the channel's interval: not due yet
    assert not producer.sent
    clock.now += 10
    two.tick(clock())
    one.tick(clock())  # one channel: not due again
    assert len(producer.sent) == 1
    ring.handle(record("openmsi_gui.a", logging.WARNING, "second"))
    clock.now += 10
    one.tick(clock())  # the first batch is on its way: the second waits
    assert len(producer.sent) == 1
    producer.deliver(0, ok=False)  # the broker never took it: sent again, with the next
    one.tick(clock())
    producer.deliver(1)
    values = [json.loads(value) for _t, _k, value, _cb in producer.sent]
    assert [[m.rsplit(": ", 1)[-1] for m in v["messages"]] for v in values] == [
        ["first"], ["first", "second"]]
    assert {key for _t, key, _v, _cb in producer.sent} == {b"pc_log"}
    assert isinstance(values[0]["timestamp"], float)
    ring.handle(record("openmsi_gui.a", logging.WARNING, "third"))
    clock.now += 10
    two.tick(clock())
    two.close()  # stopped before delivery: given back for the next shipper
    clock.now += 10
    one.tick(clock())
    assert json.loads(producer.sent[-1][2])["messages"][0].endswith("third")
    assert len(producer.sent) == 4


def test_beats_that_cannot_be_written_are_said_once(caplog: pytest.LogCaptureFixture) -> None:
    clock, bus = Clock(), EventBus()
    reporter, _counts, producer = make_reporter(clock, bus)
    for _ in range(3):
        clock.now += 10
        reporter.tick()
        producer.deliver(-1, ok=False)
    told = [r for r in caplog.records if "cannot be written to topic beats" in r.getMessage()]
    assert len(told) == 1
    assert "openmsi topic create beats" in told[0].getMessage()
