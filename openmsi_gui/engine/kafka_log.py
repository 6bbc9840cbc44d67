"""Warnings and errors to a Kafka log topic, as OpenMSIStream's log messages.

:class:`LogRing` is one logging handler per process (:func:`install_ring`): a
bounded ring of the lines our loggers (``openmsi_gui.*``, librdkafka's own
``openmsi_gui.librdkafka``, the command line's ``openmsi``) log at WARNING and
above, and of the INFO lines marked for it (``extra=REPORTED``, e.g. "the broker
answers again"). A :class:`LogShipper`, ticked by a job's working thread, sends
the lines that are new every interval as one message, key ``<program_id>_log``,
value ``{"timestamp": <epoch seconds>, "messages": [...]}``, and nothing when
there are none.

Lines logged while the broker is away are not lost: a batch stays in flight
until the broker acknowledges it (the job's producer never gives up on a
message), or goes back in front of the queue when it fails, and the next batch
waits for it. Jobs that share a log topic and program id (the app's jobs on one
broker) share one :class:`LogChannel`, so each line is sent once.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, Message, Producer

from openmsi_gui.engine.lab_wire import LogBatch, encode_log, log_key

RING_SIZE = 1000
"""Lines the ring keeps; a shipper further behind loses the oldest (and says so)."""
PENDING_MAX = 2000
"""Lines a channel keeps for a broker that is away; beyond, the oldest go."""
MAX_BATCH_LINES = 500
MAX_BATCH_BYTES = 200_000
MAX_LINE = 2000
LOGGERS = ("openmsi_gui", "openmsi")
"""Whose records the ring keeps (these loggers and their children)."""
REPORTED = {"lab_report": True}
"""``extra=REPORTED`` sends an INFO line to the log topic too."""
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


class LogRing(logging.Handler):
    """The process's ring of reportable log lines, each with a sequence number."""

    def __init__(self, size: int = RING_SIZE) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter(FORMAT))
        self._lines: collections.deque[tuple[int, str]] = collections.deque(maxlen=size)
        self._seq = 0
        self._ring_lock = threading.Lock()

    @staticmethod
    def wanted(record: logging.LogRecord) -> bool:
        """Whether ``record`` goes to the log topic."""
        if record.levelno < logging.WARNING and not getattr(record, "lab_report", False):
            return False
        return any(record.name == name or record.name.startswith(name + ".")
                   for name in LOGGERS)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record``'s line if it is wanted."""
        if not self.wanted(record):
            return
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted must not break the job
            line = f"{record.levelname} {record.name}: {record.msg!r}"
        line = line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
        with self._ring_lock:
            self._seq += 1
            self._lines.append((self._seq, line))

    def after(self, seq: int) -> tuple[list[str], int, int]:
        """Lines newer than ``seq``: ``(lines, newest seq, lines lost off the ring)``."""
        with self._ring_lock:
            lines = [line for n, line in self._lines if n > seq]
            oldest = self._lines[0][0] if self._lines else self._seq + 1
            lost = max(0, oldest - seq - 1)
            return lines, self._seq, lost

    @property
    def newest(self) -> int:
        """The sequence number of the newest line (0: none yet)."""
        with self._ring_lock:
            return self._seq


_ring: LogRing | None = None
_ring_lock = threading.Lock()


def install_ring() -> LogRing:
    """The process's :class:`LogRing`, on the root logger (idempotent)."""
    global _ring
    with _ring_lock:
        if _ring is None:
            _ring = LogRing()
            logging.getLogger().addHandler(_ring)
        return _ring


class LogChannel:
    """Lines on their way to one log topic as one program.

    Its cursor in the ring, its queue and its batch in flight are shared by the
    shippers of that topic and program id.
    """

    def __init__(self, ring: LogRing) -> None:
        self._ring = ring
        self.lock = threading.Lock()
        self.cursor = 0  # from the ring's start: lines logged while starting go too
        self.pending: collections.deque[str] = collections.deque(maxlen=PENDING_MAX)
        self.in_flight: object | None = None  # the token of the batch on its way
        self.next_due = 0.0
        self.delivered_batches = 0
        self.told_refusal = False

    def collect(self) -> None:
        """Move the ring's new lines into the queue (lock held)."""
        lines, self.cursor, lost = self._ring.after(self.cursor)
        if lost:
            self.pending.append(f"({lost} log lines were lost: logged faster than sent)")
        self.pending.extend(lines)

    def take(self) -> list[str]:
        """The next batch (lock held), bounded in lines and bytes."""
        batch: list[str] = []
        size = 0
        while self.pending and len(batch) < MAX_BATCH_LINES:
            size += len(self.pending[0]) + 4
            if batch and size > MAX_BATCH_BYTES:
                break
            batch.append(self.pending.popleft())
        return batch

    def give_back(self, batch: list[str]) -> None:
        """Put an undelivered batch back in front (lock held)."""
        self.pending.extendleft(reversed(batch))


_channels: dict[tuple[str, str, str], LogChannel] = {}
_channels_lock = threading.Lock()


def channel_for(servers: str, topic: str, program_id: str) -> LogChannel:
    """The channel of ``program_id`` on ``topic`` at ``servers`` (made once per process)."""
    ring = install_ring()
    with _channels_lock:
        return _channels.setdefault((servers, topic, program_id), LogChannel(ring))


class LogShipper:
    """Sends a channel's new lines through one job's producer every interval.

    Args:
        producer: the producer (the job's, or one for the ``[log]`` broker).
        topic: the log topic.
        program_id: the program id of the keys.
        interval: seconds between two messages.
        servers: the broker (tells channels apart).
        host: the host name the messages carry.
        clock: monotonic seconds.
    """

    def __init__(self, producer: Producer, topic: str, program_id: str, interval: float,
                 servers: str, host: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._producer = producer
        self.topic = topic
        self.program_id = program_id
        self._interval = interval
        self._host = host
        self._clock = clock
        self.channel = channel_for(servers, topic, program_id)
        self._sent: tuple[object | None, list[str]] = (None, [])  # our batch on its way

    def tick(self, now: float, force: bool = False) -> None:
        """Send the new lines if the interval has passed (or ``force``); never blocks long."""
        channel = self.channel
        with channel.lock:
            if not force and now < channel.next_due:
                return
            channel.next_due = now + self._interval
            channel.collect()
            if channel.in_flight is not None or not channel.pending:
                return
            batch = channel.take()
            token = channel.in_flight = object()
            self._sent = (token, batch)
        value = encode_log(LogBatch(self.program_id, time.time(), tuple(batch), self._host))

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            self._settle(token, batch, err is None)

        try:
            self._producer.produce(self.topic, value=value,
                                   key=log_key(self.program_id).encode("utf-8"),
                                   on_delivery=delivered)
        except Exception:  # BufferError (a full queue), or any: sent at the next tick
            self._settle(token, batch, False)

    def _settle(self, token: object, batch: list[str], ok: bool) -> None:
        channel = self.channel
        with channel.lock:
            if channel.in_flight is not token:
                return  # given back already (the shipper closed)
            channel.in_flight = None
            if ok:
                channel.delivered_batches += 1
                channel.told_refusal = False
                return
            channel.give_back(batch)
            channel.next_due = 0.0
            tell, channel.told_refusal = not channel.told_refusal, True
        if tell:
            log.warning("log messages cannot be written to topic %s: check that it exists "
                        "('openmsi topic create %s')", self.topic, self.topic)

    def close(self) -> None:
        """The job stops: a batch of ours still on its way goes back to the channel's queue.

        The next shipper of the channel (a restarted job) sends it, so it may
        arrive twice if it was delivered after all, but is not lost while the
        process lives.
        """
        token, batch = self._sent
        self._sent = (None, [])
        channel = self.channel
        with channel.lock:
            if token is not None and channel.in_flight is token:
                channel.in_flight = None
                channel.give_back(batch)
                channel.next_due = 0.0
