"""What the topics say about the files of one data topic: the facts an audit judges.

Two sources, both read once with :func:`~.topic_reader.read_topic`:

* the **data topic**: every chunk names its file (path, SHA-512, chunk count,
  offset), so a file whose every chunk is there was sent, by this app or by
  the real ``openmsistream`` (which adds no sent record); the size is the last
  chunk's offset plus its length.
* the **receipts topic**: senders' signed SENT records and destinations' signed
  STORED or FAILED receipts. Only receipts that verify with the identities
  trusted here count (see :mod:`.receipts`); the rest are counted by kind,
  never believed.

Nothing here decides what is confirmed: that is :mod:`openmsi_gui.app.audit`.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Message

from openmsi_gui.engine import wire
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import PublicIdentity
from openmsi_gui.engine.receipts import (
    Receipt,
    ReceiptStatus,
    Rejection,
    RejectKind,
    open_receipt,
    receipts_topic,
)
from openmsi_gui.engine.topic_reader import ConsumerFactory, TopicMissing, read_topic

log = logging.getLogger(__name__)

FileKey = tuple[str, bytes]
"""A file on a topic: its relative path and SHA-512."""


@dataclass
class TopicFile:
    """One file (path and content) as its chunks on the data topic show it.

    Attributes:
        relpath: its path relative to the sender's folder (untrusted text).
        sha512: its SHA-512 as the chunks announce it.
        n_chunks: how many chunks it has.
        size: its size (known once the last chunk is seen; -1 before).
        mtime: its modification time at the source (0 if unknown).
        last_time: when its latest chunk was produced (epoch seconds, broker time).
        chunks: the chunk numbers seen.
    """

    relpath: str
    sha512: bytes
    n_chunks: int
    size: int = -1
    mtime: float = 0.0
    last_time: float = 0.0
    chunks: set[int] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        """Whether every chunk is on the topic."""
        return len(self.chunks) >= self.n_chunks and self.size >= 0


@dataclass
class AuditFacts:
    """Everything the topics say about the files of one data topic.

    Attributes:
        topic: the data topic.
        receipts_topic: where receipts were read.
        on_topic: files found from their chunks, by path and SHA-512.
        sent: the latest trusted SENT record of each file.
        receipts: each destination's latest trusted STORED or FAILED receipt, per file.
        rejected: receipts not trusted, by kind.
        not_chunks: messages on the data topic that are not readable chunks
            (encrypted ones among them).
        data_messages: messages read on the data topic.
        receipt_messages: messages read on the receipts topic.
        receipts_topic_missing: the receipts topic does not exist.
        data_topic_missing: the data topic does not exist (any more).
    """

    topic: str
    receipts_topic: str
    on_topic: dict[FileKey, TopicFile] = field(default_factory=dict)
    sent: dict[FileKey, Receipt] = field(default_factory=dict)
    receipts: dict[FileKey, dict[str, Receipt]] = field(default_factory=dict)
    rejected: collections.Counter[RejectKind] = field(default_factory=collections.Counter)
    not_chunks: int = 0
    data_messages: int = 0
    receipt_messages: int = 0
    receipts_topic_missing: bool = False
    data_topic_missing: bool = False

    def take_chunk(self, value: bytes | None, timestamp: float) -> None:
        """Count one data-topic message (untrusted bytes)."""
        self.data_messages += 1
        try:
            chunk = wire.decode_chunk(value, verify=False)
        except wire.BadMessage:
            self.not_chunks += 1
            return
        key = (chunk.relpath, chunk.file_hash)
        found = self.on_topic.get(key)
        if found is None or found.n_chunks != chunk.n_chunks:
            # the same content cut differently is another sending of it: start again
            found = self.on_topic[key] = TopicFile(chunk.relpath, chunk.file_hash,
                                                   chunk.n_chunks)
        found.chunks.add(chunk.chunk_i)
        found.mtime = chunk.file_mtime or found.mtime
        found.last_time = max(found.last_time, timestamp)
        if chunk.chunk_i == chunk.n_chunks:
            found.size = chunk.offset + len(chunk.data)

    def take_receipt(self, value: bytes | None, trust: Mapping[str, PublicIdentity]) -> None:
        """Count one receipts-topic message (untrusted bytes): believed only if it verifies."""
        self.receipt_messages += 1
        outcome = open_receipt(value, trust)
        if isinstance(outcome, Rejection):
            self.rejected[outcome.kind] += 1
            return
        if outcome.topic != self.topic:
            return  # a receipt about another data topic sharing this receipts topic
        key = (outcome.relpath, outcome.sha512)
        if outcome.status is ReceiptStatus.SENT:
            known = self.sent.get(key)
            if known is None or outcome.time >= known.time:
                self.sent[key] = outcome
            return
        per_destination = self.receipts.setdefault(key, {})
        known = per_destination.get(outcome.destination)
        if known is None or outcome.time >= known.time:
            per_destination[outcome.destination] = outcome  # the latest word wins

    @property
    def rejected_total(self) -> int:
        """How many messages on the receipts topic were not trusted."""
        return sum(self.rejected.values())


def scan(config: KafkaConfig, topic: str, trust: Mapping[str, PublicIdentity],
         since: float | None = None, receipts: str = "", read_data: bool = True,
         consumer_factory: ConsumerFactory = Consumer) -> AuditFacts:
    """Read the data topic and its receipts topic once, to their ends now.

    Args:
        config: the broker.
        topic: the data topic.
        trust: identities (senders and destinations) whose receipts are believed.
        since: read only what was produced at or after this time (epoch seconds).
        receipts: the receipts topic ("" for ``<topic>.receipts``).
        read_data: also read the data topic (files without a sent record).
        consumer_factory: makes the consumers (fakes in unit tests).

    Raises:
        TopicMissing: neither the data topic nor the receipts topic exists (the
            receipts topic does not, when the data topic is not read).
        BrokerError: the broker cannot be reached, or stops answering.
    """
    facts = AuditFacts(topic, receipts or receipts_topic(topic))

    def on_chunk(message: Message) -> None:
        facts.take_chunk(message.value(), _seconds(message))

    def on_receipt(message: Message) -> None:
        facts.take_receipt(message.value(), trust)

    # Both at once: verifying receipts is CPU, reading chunks mostly librdkafka's fetching.
    # They fill separate fields of ``facts``.
    with ThreadPoolExecutor(1, thread_name_prefix="audit-receipts") as pool:
        receipts_read = pool.submit(_read, config, facts.receipts_topic, on_receipt, since,
                                    consumer_factory)
        if read_data:
            facts.data_topic_missing = not _read(config, topic, on_chunk, since,
                                                 consumer_factory)
        facts.receipts_topic_missing = not receipts_read.result()
    if read_data and facts.data_topic_missing and facts.receipts_topic_missing:
        raise TopicMissing(f"topic {topic!r} does not exist on the broker, nor does "
                           f"{facts.receipts_topic!r}: check the topic's name")
    if not read_data and facts.receipts_topic_missing:
        raise TopicMissing(f"topic {facts.receipts_topic!r} does not exist on the broker: "
                           "check the topic's name, or read the data topic too")
    log.info("audit of %s: %d data messages, %d receipts (%d not trusted)", topic,
             facts.data_messages, facts.receipt_messages, facts.rejected_total)
    return facts


def _read(config: KafkaConfig, topic: str, handle: Callable[[Message], None],
          since: float | None, consumer_factory: ConsumerFactory) -> bool:
    """Read ``topic`` into ``handle``; False if it does not exist."""
    try:
        read_topic(config, topic, handle, since, consumer_factory=consumer_factory)
    except TopicMissing:
        return False
    return True


def _seconds(message: Message) -> float:
    _kind, millis = message.timestamp()
    return millis / 1000.0 if millis and millis > 0 else 0.0
