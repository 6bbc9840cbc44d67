"""Consumer offsets: what was read, what may be committed, and committing it.

Offsets are committed at checkpoints, after the temporary files are fsynced
and the registry is committed, and never past the first message of a file
that is still incomplete (its *pin*). After a crash or a rebalance, whichever
consumer owns the partition re-reads every unfinished file from its first
chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, overload

from confluent_kafka import KafkaException, Message, TopicPartition

from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

RebalanceCallback = Callable[[Any, list[TopicPartition]], None]


class ConsumerClient(Protocol):
    """The part of a confluent-kafka ``Consumer`` the downloader uses (a fake in unit tests)."""

    def subscribe(self, topics: list[str], on_assign: RebalanceCallback | None = None,
                  on_revoke: RebalanceCallback | None = None,
                  on_lost: RebalanceCallback | None = None) -> None:
        """Join the group for ``topics``."""

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        """Up to ``num_messages`` messages, waiting at most ``timeout`` s."""

    def assignment(self) -> list[TopicPartition]:
        """The partitions assigned now."""

    @overload
    def commit(self, *, offsets: list[TopicPartition],
               asynchronous: Literal[True] = ...) -> None: ...

    @overload
    def commit(self, *, offsets: list[TopicPartition],
               asynchronous: Literal[False]) -> list[TopicPartition]: ...

    def assign(self, partitions: list[TopicPartition]) -> None:
        """Make ``partitions`` the assignment (in a rebalance callback)."""

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        """Add ``partitions`` to the assignment (cooperative rebalancing)."""

    def pause(self, partitions: list[TopicPartition]) -> None:
        """Stop fetching from ``partitions``."""

    def resume(self, partitions: list[TopicPartition]) -> None:
        """Fetch from ``partitions`` again."""

    def seek(self, partition: TopicPartition) -> None:
        """Read ``partition`` from its offset next."""

    def close(self) -> None:
        """Leave the group (the revoke callback runs first)."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        """The cluster's metadata (its ``topics`` by name)."""


ConsumerFactory = Callable[[dict[str, Any]], ConsumerClient]


class Offsets:
    """The next offset to read and the last committed one, per assigned partition.

    Args:
        topic: the topic consumed.
        job: name used in logs.
    """

    def __init__(self, topic: str, job: str) -> None:
        self.topic = topic
        self.next: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        self._job = job

    def read(self, partition: int, offset: int) -> None:
        """Note that the message at ``offset`` was read (processed or not)."""
        self.next[partition] = offset + 1

    def rewind(self, messages: list[Message]) -> dict[int, int]:
        """Go back to the first of ``messages`` in each partition; return where that is."""
        rewind: dict[int, int] = {}
        for message in messages:
            if message.error() is None:
                partition, offset = message.partition() or 0, message.offset() or 0
                rewind[partition] = min(rewind.get(partition, offset), offset)
        for partition, offset in rewind.items():
            if partition in self.next:
                self.next[partition] = min(self.next[partition], offset)
        return rewind

    def safe(self, pins: Mapping[int, int]) -> dict[int, int]:
        """What may be committed: what was read, but not past a pinned first message."""
        return {p: min(o, pins.get(p, o)) for p, o in self.next.items()}

    def commit(self, consumer: ConsumerClient | None, pins: Mapping[int, int],
               asynchronous: bool = True) -> None:
        """Commit the safe offsets that changed (a failure is logged and retried later)."""
        changed = [TopicPartition(self.topic, p, o) for p, o in self.safe(pins).items()
                   if self._committed.get(p) != o]
        if not changed or consumer is None:
            return
        try:
            if asynchronous:
                consumer.commit(offsets=changed, asynchronous=True)
            else:
                consumer.commit(offsets=changed, asynchronous=False)
        except KafkaException as exc:
            log.warning("%s: offset commit failed (will retry): %s", self._job,
                        escaped(str(exc)))
            return
        for tp in changed:
            self._committed[tp.partition] = tp.offset

    def seek(self, consumer: ConsumerClient, rewind: Mapping[int, int]) -> None:
        """Make ``consumer`` read each partition in ``rewind`` from its offset next."""
        for partition, offset in rewind.items():
            try:
                consumer.seek(TopicPartition(self.topic, partition, offset))
            except KafkaException as exc:  # e.g. revoked meanwhile: its owner re-reads it
                log.warning("%s: could not rewind partition %d: %s", self._job, partition,
                            escaped(str(exc)))

    def forget(self, partitions: set[int]) -> None:
        """Drop revoked partitions (their new owner reads on from the committed offsets)."""
        for p in partitions:
            self.next.pop(p, None)
            self._committed.pop(p, None)
