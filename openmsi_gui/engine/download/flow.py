"""Flow control: the one place that pauses and resumes the consumer's partitions.

Fetching stops for several reasons at once (the user paused, the destination
cannot take data, the finisher is behind, a bandwidth limit, an encrypted
partition waiting for its keys); each holds some partitions and releases them
on its own. A partition is paused while any reason holds it, and resumed only
when the last one lets go, so the reasons compose. The consume loop keeps
polling while partitions are paused, so the consumer stays in its group
however long a hold lasts (librdkafka leaves the group when the application
does not poll for ``max.poll.interval.ms``).

Only the consume thread uses a :class:`FlowControl` (rebalance callbacks run on
it too, inside ``consume``).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import Message, TopicPartition

from openmsi_gui.engine.bandwidth import Pacer
from openmsi_gui.engine.download.checkpoints import ConsumerClient

log = logging.getLogger(__name__)


class HoldReason(enum.Enum):
    """Why fetching from a partition stops."""

    USER = "paused"
    DESTINATION = "the destination cannot take data"
    FINISHER = "files wait to be verified"
    PROCESSING = "files wait to be processed"
    BANDWIDTH = "the bandwidth limit"
    NO_KEYS = "waiting for encryption keys"


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Hold at ``high`` or more, release below ``low`` (``low`` <= ``high``)."""

    high: int
    low: int

    def hold(self, holding: bool, level: int) -> bool:
        """Whether to hold, given whether it holds now and the current level."""
        return level >= self.low if holding else level >= self.high


class FlowControl:
    """The set of reasons holding each assigned partition, applied to the consumer.

    A reason held for the whole job (:meth:`hold` without partitions) also holds
    the partitions assigned later; one held for some partitions ends when they
    are revoked. :meth:`apply` pauses and resumes the consumer's partitions to
    match, and resumes only what it paused.

    Args:
        topic: the topic consumed.
        job: name used in logs.
        incremental: the group uses incremental (cooperative) rebalancing.
    """

    def __init__(self, topic: str, job: str, incremental: bool = False) -> None:
        self._topic = topic
        self._job = job
        self._incremental = incremental
        self._assigned: set[int] = set()
        self._everywhere: set[HoldReason] = set()
        self._per_partition: dict[int, set[HoldReason]] = {}
        self._paused: set[int] = set()  # what this object paused on the consumer

    # -- reasons -----------------------------------------------------------

    def hold(self, reason: HoldReason, partitions: Iterable[int] | None = None) -> None:
        """Hold ``partitions`` (every partition, also those assigned later, if None)."""
        if partitions is None:
            self._everywhere.add(reason)
            return
        for p in partitions:
            self._per_partition.setdefault(p, set()).add(reason)

    def release(self, reason: HoldReason, partitions: Iterable[int] | None = None) -> None:
        """Let go of ``reason`` on ``partitions`` (everywhere, if None)."""
        if partitions is None:
            self._everywhere.discard(reason)
            for reasons in self._per_partition.values():
                reasons.discard(reason)
            return
        for p in partitions:
            self._per_partition.get(p, set()).discard(reason)

    def switch(self, reason: HoldReason, holding: bool) -> None:
        """Hold or release ``reason`` everywhere."""
        if holding:
            self.hold(reason)
        else:
            self.release(reason)

    def holds(self, reason: HoldReason, partition: int | None = None) -> bool:
        """Whether ``reason`` holds ``partition`` (or holds everywhere, if None)."""
        if reason in self._everywhere:
            return True
        return partition is not None and reason in self._per_partition.get(partition, ())

    def reasons(self, partition: int) -> set[HoldReason]:
        """Every reason holding ``partition``."""
        return self._everywhere | self._per_partition.get(partition, set())

    @property
    def paused(self) -> frozenset[int]:
        """The partitions paused on the consumer now."""
        return frozenset(self._paused)

    # -- the consumer ------------------------------------------------------

    def assigned(self, consumer: ConsumerClient, partitions: list[TopicPartition]) -> None:
        """Take newly assigned partitions (in ``on_assign``); held ones are paused at once.

        A partition paused before it is assigned fetches anyway once confluent-kafka
        assigns it after this callback, so when some must be paused the assignment
        is made here first. A partition assigned again after a rebalance is paused
        again, whether this object paused it before or not.
        """
        new = {tp.partition for tp in partitions}
        self._assigned |= new
        self._paused -= new
        if any(self.reasons(p) for p in new):
            if self._incremental:
                consumer.incremental_assign(partitions)
            else:
                consumer.assign(partitions)
        self.apply(consumer)

    def revoked(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions and the reasons held for them alone."""
        gone = set(partitions)
        self._assigned -= gone
        self._paused -= gone
        for p in gone:
            self._per_partition.pop(p, None)

    def apply(self, consumer: ConsumerClient) -> None:
        """Pause what is held and not paused; resume what this object paused and is free."""
        want = {p for p in self._assigned if self.reasons(p)}
        to_pause = sorted(want - self._paused)
        to_resume = sorted(self._paused - want)
        if to_pause:
            consumer.pause(self._partitions(to_pause))
            log.debug("%s: paused partitions %s (%s)", self._job, to_pause,
                      ", ".join(sorted(r.value for p in to_pause for r in self.reasons(p))))
        if to_resume:
            consumer.resume(self._partitions(to_resume))
            log.debug("%s: resumed partitions %s", self._job, to_resume)
        self._paused = (self._paused | set(to_pause)) - set(to_resume)

    def _partitions(self, numbers: list[int]) -> list[TopicPartition]:
        return [TopicPartition(self._topic, p) for p in numbers]


def prefetch_settings(settings: dict[str, str], pacer: Pacer | None) -> dict[str, str]:
    """Consumer settings whose prefetch holds about one second at the highest limit.

    librdkafka fills its fetch queue (64 MiB by default) at full speed whenever it
    has room, at the start and whenever data comes after a quiet time, so a limit
    that is always in force also bounds the queue. A limit that is sometimes off
    (a timetable with ``off``, or one turned on later) leaves the queue as it is.
    """
    ceiling = pacer.ceiling() if pacer is not None else None
    if ceiling is None:
        return settings
    # librdkafka refuses a fetch.max.bytes below message.max.bytes.
    cap = max(1024 * 1024, int(settings.get("message.max.bytes", 1_000_000)), int(ceiling))
    capped = dict(settings)
    for key, scale in (("queued.max.messages.kbytes", 1024), ("fetch.max.bytes", 1),
                       ("max.partition.fetch.bytes", 1)):
        if key in capped:
            capped[key] = str(min(int(capped[key]), cap // scale))
    return capped


class ReceivePace:
    """The receiving side of a bandwidth limit (consume thread).

    While the pacer is in debt the loop does not read: librdkafka's bounded
    fetch queue then fills and its fetcher stops, without dropping anything.
    Pausing the partitions instead would drop what was prefetched, to be fetched
    again on resume, costing bandwidth. A wait longer than ``max_gap`` (only at
    very low limits) pauses the partitions through the flow control and polls,
    so the consumer keeps its group membership.

    Args:
        pacer: the job's pace; None for no limit.
        flow: pauses the partitions for long waits.
        max_gap: seconds the loop may go without polling.
    """

    def __init__(self, pacer: Pacer | None, flow: FlowControl, max_gap: float) -> None:
        self._pacer = pacer
        self._flow = flow
        self._max_gap = max_gap
        self._last_read = time.monotonic()
        # Bytes per message, running average; large at first, so that the first read
        # under a limit takes one message rather than a burst.
        self._average = 16 * 1024 * 1024.0

    def may_read(self) -> bool:
        """Whether the loop reads now (partitions held by the limit return nothing)."""
        if self._pacer is None:
            return True
        if self._pacer.delay() <= 0:
            self._flow.release(HoldReason.BANDWIDTH)
            return True
        if time.monotonic() - self._last_read >= self._max_gap:
            self._flow.hold(HoldReason.BANDWIDTH)
            return True
        return False

    def idle(self, stopping: threading.Event) -> None:
        """Wait a little while reading is held back (at most 0.2 s)."""
        if self._pacer is not None:
            stopping.wait(min(0.2, max(0.001, self._pacer.delay())))

    def batch(self, most: int) -> int:
        """Messages to read at once: about a quarter of a second at the rate in force."""
        rate = self._pacer.rate() if self._pacer is not None else None
        if rate is None:
            return most
        return max(1, min(most, int(rate / 4 / self._average)))

    def read(self, messages: Sequence[Message]) -> None:
        """Count what was read."""
        self._last_read = time.monotonic()
        if self._pacer is None or not messages:
            return
        size = sum(len(m.value() or b"") + len(m.key() or b"") for m in messages)
        self._pacer.account(size)
        self._average = 0.8 * self._average + 0.2 * max(1.0, size / len(messages))
