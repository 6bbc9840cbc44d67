"""Read a topic once, from a start time to the end it had when reading began.

The audit reads the data topic and the receipts topic from a machine that may
be no part of the transfer, so it must neither join a consumer group nor
commit anything: a fresh consumer is *assigned* every partition, from the
first offset at or after ``since`` (the beginning without it) to the end
offset captured at the start. Messages produced meanwhile are not waited for,
so a read always ends.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaPartition

from openmsi_gui.engine.admin import BrokerError
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import with_logger
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

BATCH = 500
PREFETCH_KIB = 16 * 1024  # what librdkafka fetches ahead, per consumer
TAIL_SECONDS = 3.0
TAIL_QUIET = 0.2
IDLE_LIMIT = 30.0  # seconds without any message before the broker is said to be gone

ConsumerFactory = Callable[[dict[str, Any]], Consumer]


class TopicMissing(BrokerError):
    """The topic to read does not exist."""


def read_topic(config: KafkaConfig, topic: str, handle: Callable[[Message], None],
               since: float | None = None, timeout: float = 15.0,
               consumer_factory: ConsumerFactory = Consumer) -> int:
    """Call ``handle`` with every message of ``topic`` up to its end now; return how many.

    Args:
        config: the broker.
        topic: the topic to read.
        handle: called with each message (never an error message), in offset order
            per partition.
        since: epoch seconds: start at the first message at or after it (None: from
            the beginning).
        timeout: seconds to wait for the broker's metadata and offsets.
        consumer_factory: makes the consumer (a fake in unit tests).

    Raises:
        TopicMissing: the topic does not exist.
        BrokerError: the broker cannot be reached, or stops answering while reading.
    """
    group = f"openmsi-audit-{uuid.uuid4().hex[:12]}"  # librdkafka wants one; never joined
    settings: dict[str, object] = {**config.consumer_settings(group),
                                   "enable.partition.eof": "false",
                                   "auto.offset.reset": "earliest",
                                   "queued.max.messages.kbytes": str(PREFETCH_KIB)}
    consumer = consumer_factory(with_logger(settings))
    try:
        ends = _plan(consumer, topic, since, timeout)
        if not ends:
            return 0
        return _drain(consumer, topic, ends, handle)
    finally:
        consumer.close()


def _plan(consumer: Consumer, topic: str, since: float | None, timeout: float
          ) -> dict[int, int]:
    """Assign the partitions that hold messages to read; their end offsets."""
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(f"cannot reach the broker ({exc}): check the address and that it "
                          "is running") from exc
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise TopicMissing(f"topic {topic!r} does not exist on the broker: check its name")
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    try:
        for partition in info.partitions:
            low, high = consumer.get_watermark_offsets(KafkaPartition(topic, partition),
                                                       timeout=timeout)
            if high > low:
                starts[partition], ends[partition] = low, high
        if since is not None and starts:
            wanted = [KafkaPartition(topic, p, int(since * 1000)) for p in starts]
            for found in consumer.offsets_for_times(wanted, timeout=timeout):
                if found.offset < 0 or found.offset >= ends[found.partition]:
                    del ends[found.partition]  # nothing at or after ``since`` there
                else:
                    starts[found.partition] = max(starts[found.partition], found.offset)
    except KafkaException as exc:
        raise BrokerError(f"cannot read the offsets of {topic!r} ({exc}): check that the "
                          "broker is running") from exc
    consumer.assign([KafkaPartition(topic, p, starts.get(p, OFFSET_BEGINNING)) for p in ends])
    return ends


def _drain(consumer: Consumer, topic: str, ends: dict[int, int],
           handle: Callable[[Message], None]) -> int:
    """Consume until every assigned partition reached its end offset, then what follows.

    An end offset is taken as a lower bound: some brokers (Tansu) report the
    offset after the *first* message of the last batch, whose other messages
    come in the same fetch. So once every partition is at its end, messages
    already on their way are read too, until none comes for a moment (at most
    :data:`TAIL_SECONDS`): a read still ends when producers keep producing.
    """
    left = dict(ends)
    count = 0
    last_message = time.monotonic()
    while left:
        messages = consumer.consume(BATCH, timeout=0.5)
        if not messages:
            _forget_finished(consumer, topic, left)  # offsets with no message (gaps) at the end
        if left and not messages and time.monotonic() - last_message > IDLE_LIMIT:
            raise BrokerError(f"the broker stopped answering while {topic!r} was read: try "
                              "again once it is back")
        for message in _messages(topic, messages):
            last_message = time.monotonic()
            handle(message)
            count += 1
            partition, offset = message.partition(), message.offset()
            if partition in left and offset is not None and offset + 1 >= left[partition]:
                del left[partition]
    tail_end = time.monotonic() + TAIL_SECONDS
    while time.monotonic() < tail_end:
        messages = _messages(topic, consumer.consume(BATCH, timeout=TAIL_QUIET))
        if not messages:
            break
        for message in messages:
            handle(message)
            count += 1
    return count


def _messages(topic: str, batch: list[Message]) -> list[Message]:
    """The messages of a batch, errors logged and left out."""
    found = []
    for message in batch:
        error = message.error()
        if error is None:
            found.append(message)
        elif error.code() != KafkaError._PARTITION_EOF:
            log.warning("reading %s: %s", topic, escaped(error.str()))
    return found


def _forget_finished(consumer: Consumer, topic: str, left: dict[int, int]) -> None:
    """Drop partitions whose position reached their end without a last message to see."""
    try:
        positions = consumer.position([KafkaPartition(topic, p) for p in left])
    except KafkaException:
        return
    for position in positions:
        if position.offset >= 0 and position.offset >= left.get(position.partition, 1 << 62):
            del left[position.partition]
