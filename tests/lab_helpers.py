"""Reading heartbeat and log topics as they are, and OpenMSIStream's field types (for lab tests).

The field types below were read from the real ``openmsistream`` 1.8.8 programs;
``tests/engine/test_lab_interop.py`` checks them against a fresh run, so the
tests of our own heartbeats can compare with them without starting OpenMSIStream.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli_helpers import run
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from openmsi_gui.engine.kafka_config import KafkaConfig

SENDER_TYPES = {"timestamp": "str", "n_messages_produced": "int", "n_bytes_produced": "int"}
"""The fields of a ``DataFileUploadDirectory`` heartbeat and their JSON types."""
RECEIVER_TYPES = {"timestamp": "str", "n_messages_read": "int", "n_messages_processed": "int",
                  "n_bytes_read": "int", "n_bytes_processed": "int"}
"""The fields of a ``DataFileDownloadDirectory`` heartbeat and their JSON types."""
LOG_TYPES = {"timestamp": "float", "messages": "list"}
"""The fields of an OpenMSIStream log message and their JSON types."""


@dataclass(frozen=True)
class Raw:
    """One message as it is on the topic."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp_ms: int

    def json(self) -> dict[str, Any]:
        assert self.value is not None
        value = json.loads(self.value)
        assert isinstance(value, dict)
        return value


def type_map(value: dict[str, Any]) -> dict[str, str]:
    """The JSON type of each field: ``int``, ``float``, ``str``, ``list``, ``NoneType``..."""
    return {name: type(field).__name__ for name, field in value.items()}


def read_raw(config: KafkaConfig, topics: Sequence[str],
             until: Callable[[list[Raw]], bool] = lambda found: False,
             timeout: float = 30.0) -> list[Raw]:
    """Every message of ``topics`` from the start, read until ``until(found)`` or ``timeout``.

    A plain consumer with all partitions assigned (no group, nothing committed):
    what any lab tool written without this app would see.
    """
    consumer = Consumer({**config.consumer_settings(f"raw-{uuid.uuid4().hex[:8]}"),
                         "enable.auto.commit": False})
    found: list[Raw] = []
    try:
        assignment = []
        for topic in topics:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
        consumer.assign(assignment)
        deadline = time.monotonic() + timeout
        while not until(found) and time.monotonic() < deadline:
            for message in consumer.consume(100, timeout=0.2):
                if message.error() is None:
                    found.append(Raw(message.topic(), message.key(), message.value(),
                                     message.timestamp()[1]))
    finally:
        consumer.close()
    return found


def status(config: Path, heartbeat_topic: str, data_dir: Path, *args: str
           ) -> tuple[int, dict[str, dict[str, Any]]]:
    """`openmsi status --json`: its exit code (0 or 1) and its programs by program id.

    ``data_dir`` is the command's own data folder, where it remembers the programs.
    """
    done = run(["status", "--config", str(config), "--heartbeat-topic", heartbeat_topic,
                "--json", *args], data_dir)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    programs = json.loads(done.stdout)["programs"]
    return done.returncode, {row["program_id"]: row for row in programs}


def produce(config: KafkaConfig, topic: str,
            messages: Sequence[tuple[str | bytes | None, bytes | None, float | None]]) -> None:
    """Produce ``(key, value, epoch seconds or None for now)`` and wait for every one."""
    producer = Producer(config.producer_settings())
    for key, value, when in messages:
        if when is None:
            producer.produce(topic, key=key, value=value)
        else:
            producer.produce(topic, key=key, value=value, timestamp=int(when * 1000))
    assert producer.flush(30) == 0
