"""Whether a job's broker answers, told once per outage instead of once per retry.

librdkafka retries a broker that is down on its own, and reports every failed
attempt (a few per second) through the error callback and its log. A
:class:`BrokerLink` turns that stream into two events per outage: a
:class:`~openmsi_gui.engine.events.ConnectionState` ``UNREACHABLE`` (with the
time it began) once the broker has not answered for a few seconds, and
``CONNECTED`` (with the same time) once it answers again. It also tells when a
consumer's topic does not exist yet (``TOPIC_MISSING``) and when it appears.

Whether the broker answers is decided by a metadata request of the job's own
client (``probe``), made from the job's own thread in :meth:`BrokerLink.tick`
while something is wrong, every ``probe_seconds``.

:class:`LibrdkafkaLog` sends librdkafka's own log lines (confluent-kafka's
``logger`` setting) to Python logging; lines about connections failing, which
the link reports once, go to the debug level. Each outage is one WARNING line
with librdkafka's own words ("broker unreachable: ... Connection refused"),
which reaches the log file and the log topic (:mod:`.kafka_log`), and one line
when it is over.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from openmsi_gui.engine.events import ConnectionState, ConnectionStatus, EventBus
from openmsi_gui.engine.kafka_log import REPORTED
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)
rdkafka_log = logging.getLogger("openmsi_gui.librdkafka")

UNREACHABLE_AFTER = 3.0
"""Seconds without an answer after a connection error before the broker is called unreachable."""
PROBE_SECONDS = 2.0
"""How often the broker is asked for its topics while something is wrong."""
PROBE_TIMEOUT = 1.0
"""How long one such request may take (it blocks the job's thread meanwhile)."""

CONNECTION_ERRORS = frozenset({
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE,
    KafkaError._TIMED_OUT, KafkaError._MSG_TIMED_OUT,
})
"""librdkafka errors that mean the broker may not be answering."""

Probe = Callable[[float], Collection[str]]
"""Asks the broker for its topic names, waiting at most the given seconds (raises if it
cannot)."""

# Facilities of librdkafka's lines about lost connections and their consequences.
_CONNECTION_FACILITIES = frozenset({"FAIL", "BROKERFAIL", "DISCONNECT", "CONNECT", "ERROR",
                                    "REQTMOUT", "TIMEOUT", "SESSTMOUT", "MAXPOLL"})


class BrokerUnreachable(RuntimeError):
    """The broker did not answer when a job started; the message says what to check.

    Attributes:
        servers: the bootstrap servers tried.
        reason: librdkafka's words ("Failed to get metadata: ..."), for the debug log only.
    """

    def __init__(self, servers: str, reason: str) -> None:
        super().__init__(f"cannot reach the broker at {servers}: check bootstrap.servers and "
                         "that the broker is running")
        self.servers = servers
        self.reason = reason


class MetadataClient(Protocol):
    """A producer or consumer, as :func:`first_metadata` uses it."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        """The cluster's metadata."""

    def poll(self, timeout: float = -1) -> int:
        """Serve callbacks (the error callback among them)."""


class _State(enum.Enum):
    OK = "ok"
    SUSPECT = "suspect"  # an error came; not yet long enough to say so
    DOWN = "down"  # announced UNREACHABLE


class BrokerLink:
    """One job's link to its broker: one event when it is lost, one when it is back.

    Args:
        bus: where the events go.
        job: the job's name (events and logs).
        servers: the bootstrap servers, as the events name them.
        probe: asks the broker for its topics (the job's client's ``list_topics``).
        topic: for a consumer, the topic it waits for when it does not exist ("" for none).
        unreachable_after: see :data:`UNREACHABLE_AFTER`.
        probe_seconds: see :data:`PROBE_SECONDS`.
        clock: monotonic seconds (tests).
    """

    def __init__(self, bus: EventBus, job: str, servers: str, probe: Probe, topic: str = "",
                 unreachable_after: float = UNREACHABLE_AFTER,
                 probe_seconds: float = PROBE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._bus = bus
        self.job = job
        self.servers = servers
        self.topic = topic
        self._probe = probe
        self.unreachable_after = unreachable_after
        self._probe_seconds = probe_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State.OK
        self._trouble_since = 0.0  # monotonic
        self._down_since = 0.0  # epoch seconds, for the events
        self._next_probe = 0.0
        self._topic_missing = False
        self._last_error = ""
        self._outage_words: dict[int, str] = {}  # librdkafka's words, by error code

    @property
    def unreachable(self) -> bool:
        """Whether the broker was announced unreachable and has not answered since."""
        return self._state is _State.DOWN

    def failing_for(self) -> float:
        """Seconds since connection errors began, while the broker has not answered (or 0)."""
        return self._clock() - self._trouble_since if self._state is not _State.OK else 0.0

    @property
    def topic_missing(self) -> bool:
        """Whether the consumer's topic was found missing and has not appeared since."""
        return self._topic_missing

    # -- what the job tells (any thread) --------------------------------------------

    def on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback: a connection error starts watching the link."""
        text = str(err.str())
        if err.code() not in CONNECTION_ERRORS:
            if text != self._last_error:  # the same problem, retried, is told once
                log.warning("%s: broker problem: %s", self.job, text)
            self._last_error = text
            return
        log.debug("%s: %s", self.job, text)
        with self._lock:
            if len(self._outage_words) < 8 or err.code() in self._outage_words:
                self._outage_words[err.code()] = text
            if self._state is _State.OK:
                self._state = _State.SUSPECT
                self._trouble_since = self._clock()
                self._down_since = time.time()
                self._next_probe = self._trouble_since + min(1.0, self.unreachable_after)

    def answered(self) -> None:
        """The broker answered (a chunk acknowledged, a message or an assignment came)."""
        if self._state is not _State.OK:
            self._recovered()

    def on_topic_missing(self) -> None:
        """The consumer said its topic does not exist: wait for it, probing for it."""
        with self._lock:
            if self._topic_missing:
                return
            self._topic_missing = True
            self._next_probe = self._clock() + self._probe_seconds
        log.debug("%s: topic %s is not on the broker yet", self.job, self.topic)
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.TOPIC_MISSING, self.topic,
                                          servers=self.servers))

    # -- the job's own thread --------------------------------------------------------

    def tick(self) -> None:
        """Probe the broker if something is wrong and a probe is due (the job's thread).

        A consumer whose topic was missing joins its group for it as soon as a
        probe (a metadata request for every topic) finds it, instead of at
        librdkafka's next metadata refresh (every 5 minutes).
        """
        if self._state is _State.OK and not self._topic_missing:
            return
        now = self._clock()
        if now < self._next_probe:
            return
        self._next_probe = now + self._probe_seconds
        try:
            topics = self._probe(PROBE_TIMEOUT)
        except KafkaException as exc:
            log.debug("%s: the broker did not answer: %s", self.job, exc)
            if self._state is _State.SUSPECT and now - self._trouble_since >= (
                    self.unreachable_after):
                self._lost()
            return
        self.answered()
        if self._topic_missing and self.topic in topics:
            self._topic_missing = False
            log.debug("%s: topic %s exists now", self.job, self.topic)
            self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTED,
                                              f"topic {self.topic} exists now",
                                              servers=self.servers))

    def _lost(self) -> None:
        with self._lock:
            if self._state is not _State.SUSPECT:
                return
            self._state = _State.DOWN
            words = "; ".join(self._outage_words.values()) or "no answer"
        log.warning("%s: broker unreachable: %s", self.job, escaped(words, 1000))
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.UNREACHABLE,
                                          servers=self.servers, down_since=self._down_since))

    def _recovered(self) -> None:
        with self._lock:
            was, self._state = self._state, _State.OK
            self._outage_words.clear()
        if was is _State.DOWN:
            log.info("%s: broker reachable again (down for %.0f s)", self.job,
                     time.time() - self._down_since, extra=REPORTED)
            self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTED,
                                              "reachable again", servers=self.servers,
                                              down_since=self._down_since))


def first_metadata(client: MetadataClient, link: BrokerLink, timeout: float) -> Any:
    """The broker's metadata when a job starts (all topics: naming one could create it).

    Gives up as soon as the broker has been failing for ``link``'s
    ``unreachable_after`` seconds (a refused port, an unknown host), not only
    after ``timeout``.

    Raises:
        BrokerUnreachable: the broker did not answer.
    """
    started = time.monotonic()
    while True:
        try:
            return client.list_topics(timeout=PROBE_TIMEOUT)
        except KafkaException as exc:
            client.poll(0)  # serves the error callback, which tells the link
            waited = time.monotonic() - started
            if waited >= timeout or link.failing_for() >= link.unreachable_after:
                error = exc.args[0] if exc.args else None
                reason = str(error.str()) if isinstance(error, KafkaError) else str(exc)
                log.debug("%s: no answer from %s: %s", link.job, link.servers, reason)
                raise BrokerUnreachable(link.servers, reason) from exc


class LibrdkafkaLog:
    """librdkafka's log lines through Python logging (confluent-kafka's ``logger`` setting).

    Lines about connections (failed, lost, timed out) go to the debug level: a
    :class:`BrokerLink` tells about an outage once. Others keep their level,
    at most WARNING.
    """

    def log(self, level: int, fmt: str, *args: object) -> None:
        """What confluent-kafka calls (a Python level; ``fmt % args`` is "FAC [client] text")."""
        facility = str(args[0]) if args else ""
        level = logging.DEBUG if facility in _CONNECTION_FACILITIES else min(level,
                                                                              logging.WARNING)
        rdkafka_log.log(level, fmt, *args)


def with_logger(settings: dict[str, object]) -> dict[str, object]:
    """``settings`` with librdkafka's log going through :class:`LibrdkafkaLog`."""
    return {**settings, "logger": LibrdkafkaLog()}


DeliveryCallback = Callable[[KafkaError | None, Message], None]


def produce_waiting(producer: Producer, topic: str, value: bytes, key: str | bytes | None,
                    on_delivery: DeliveryCallback, attempts: int = 50) -> bool:
    """Produce one message, polling while librdkafka's local queue is full (up to ~5 s).

    Returns:
        Whether it was queued; False when the queue stayed full (the caller says
        what becomes of the message).
    """
    for _ in range(attempts):
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:  # the local queue is full: let it drain
            producer.poll(0.1)
        else:
            producer.poll(0)
            return True
    return False
