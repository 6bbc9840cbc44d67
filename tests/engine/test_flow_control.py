"""Flow control: pausing partitions for several reasons at once, and keeping the group."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from helpers import chunks_of, produce_chunks, tree_files, wait_until

from openmsi_gui.engine.download.flow import FlowControl, HoldReason, Hysteresis
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry


class RecordingConsumer:
    """What FlowControl calls on a consumer, recorded."""

    def __init__(self) -> None:
        self.paused: set[int] = set()
        self.calls: list[tuple[str, list[int]]] = []

    def _record(self, what: str, partitions: list[TopicPartition]) -> None:
        self.calls.append((what, sorted(tp.partition for tp in partitions)))

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._record("assign", partitions)

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self._record("incremental_assign", partitions)

    def pause(self, partitions: list[TopicPartition]) -> None:
        self._record("pause", partitions)
        self.paused |= {tp.partition for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self._record("resume", partitions)
        self.paused -= {tp.partition for tp in partitions}


def _tps(*numbers: int) -> list[TopicPartition]:
    return [TopicPartition("t", n) for n in numbers]


def test_reasons_compose_and_only_the_last_one_resumes() -> None:
    consumer = RecordingConsumer()
    flow = FlowControl("t", "j")
    flow.assigned(consumer, _tps(0, 1, 2))  # type: ignore[arg-type]
    assert consumer.calls == []  # nothing held: the assignment is confluent-kafka's to make
    flow.hold(HoldReason.FINISHER)
    flow.hold(HoldReason.NO_KEYS, [1])
    flow.apply(consumer)  # type: ignore[arg-type]
    assert consumer.paused == {0, 1, 2}
    flow.release(HoldReason.FINISHER)
    flow.apply(consumer)  # type: ignore[arg-type]
    assert consumer.paused == {1}  # still waiting for keys
    flow.hold(HoldReason.BANDWIDTH)
    flow.release(HoldReason.NO_KEYS, [1])
    flow.apply(consumer)  # type: ignore[arg-type]
    assert consumer.paused == {0, 1, 2}
    flow.switch(HoldReason.BANDWIDTH, False)
    flow.apply(consumer)  # type: ignore[arg-type]
    assert consumer.paused == set()
    flow.apply(consumer)  # type: ignore[arg-type]
    assert [what for what, _ in consumer.calls] == ["pause", "resume", "pause", "resume"]


def test_partitions_assigned_while_held_are_assigned_then_paused() -> None:
    consumer = RecordingConsumer()
    flow = FlowControl("t", "j")
    flow.hold(HoldReason.USER)
    flow.assigned(consumer, _tps(0, 1))  # type: ignore[arg-type]
    # Pausing before the assignment is made would not hold: confluent-kafka assigns
    # after on_assign returns, and the partitions would fetch.
    assert consumer.calls == [("assign", [0, 1]), ("pause", [0, 1])]
    flow.revoked([0, 1])
    flow.release(HoldReason.USER)
    flow.apply(consumer)  # type: ignore[arg-type]
    assert consumer.calls[-1] == ("pause", [0, 1])  # nothing assigned: nothing to resume

    cooperative = RecordingConsumer()
    flow = FlowControl("t", "j", incremental=True)
    flow.hold(HoldReason.NO_KEYS, [3])
    flow.assigned(cooperative, _tps(3))  # type: ignore[arg-type]
    assert cooperative.calls == [("incremental_assign", [3]), ("pause", [3])]


def test_reasons_for_revoked_partitions_end_with_them() -> None:
    consumer = RecordingConsumer()
    flow = FlowControl("t", "j")
    flow.assigned(consumer, _tps(0, 1))  # type: ignore[arg-type]
    flow.hold(HoldReason.NO_KEYS, [0])
    flow.apply(consumer)  # type: ignore[arg-type]
    flow.revoked([0])
    flow.assigned(consumer, _tps(0))  # type: ignore[arg-type]
    assert not flow.reasons(0)
    assert consumer.paused == {0}  # as the fake keeps it; the flow no longer claims it
    assert flow.paused == frozenset()


def test_hysteresis() -> None:
    gate = Hysteresis(high=4, low=2)
    assert not gate.hold(False, 3)
    assert gate.hold(False, 4)
    assert gate.hold(True, 2)
    assert not gate.hold(True, 1)


def test_a_finisher_stuck_longer_than_the_poll_interval_keeps_the_group(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        registry: Registry) -> None:
    """The consumer pauses its partitions and keeps polling; every file then completes."""
    files = {f"f{i}.bin": f"file {i}".encode() * 100 for i in range(6)}
    for partition, (name, data) in enumerate(files.items()):
        produce_chunks(kafka_config, topic, chunks_of(data, name), partition % 3)
    poll_interval = 3.0
    config = KafkaConfig(broker=dict(kafka_config.broker), consumer={
        "max.poll.interval.ms": str(int(poll_interval * 1000)),
        "session.timeout.ms": "3000", "heartbeat.interval.ms": "500"})
    consumers: list[Consumer] = []

    def factory(settings: dict[str, Any]) -> Consumer:
        consumers.append(Consumer(settings))
        return consumers[-1]

    down = Downloader(config, topic, tmp_path / "dest", bus, registry, group_id=f"g-{topic}",
                      job="d", consumer_factory=factory, finishing=Hysteresis(high=2, low=1))
    gate = threading.Event()
    down._finisher.pool.submit(gate.wait)  # the finisher thread is stuck until the gate opens
    down.start()
    try:
        wait_until(lambda: down._flow.holds(HoldReason.FINISHER) and down._flow.paused,
                   message="the partitions paused for the finisher")
        member = consumers[0].memberid()
        assert member
        time.sleep(poll_interval * 1.5)  # longer than max.poll.interval.ms
        assert consumers[0].memberid() == member
        gate.set()
        wait_until(lambda: tree_files(tmp_path / "dest") == files, message="every file")
        assert consumers[0].memberid() == member
        assert down.assignment == {0, 1, 2}
    finally:
        gate.set()
        down.stop()
