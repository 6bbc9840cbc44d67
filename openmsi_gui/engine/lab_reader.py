"""Read the heartbeat and log topics of a lab: continuously (the Lab view) or once (the CLI).

A lab reader is no part of any transfer and may run on any machine, so it
neither joins a consumer group nor commits anything: its consumer (with a
fresh group id that is never joined) is *assigned* every partition of the
heartbeat topic and of the log topic, from the first message at or after
``now - since``, and then follows them.

:class:`LabReader` runs on its own thread and publishes what it decoded as one
:class:`~openmsi_gui.engine.events.LabReports` event at most every half second
(with one problem sentence while the broker cannot be reached or a topic does
not exist yet: it waits for both). :func:`read_once` reads up to the end the
topics had when it began, then returns (``openmsi status``).

Anything on those topics that is not a heartbeat or a log message (another
key, a value that is not JSON, junk) is counted and skipped;
:mod:`~openmsi_gui.engine.lab_wire` bounds and escapes what it keeps.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import (
    OFFSET_END,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
)
from confluent_kafka import TopicPartition as KafkaPartition

from openmsi_gui.engine import admin
from openmsi_gui.engine.events import EventBus, LabReports
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import Heartbeat, LogBatch, decode_heartbeat, decode_log
from openmsi_gui.engine.link import (
    CONNECTION_ERRORS,
    PROBE_SECONDS,
    UNREACHABLE_AFTER,
    BrokerLink,
    with_logger,
)
from openmsi_gui.engine.topic_reader import read_topic
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

PUBLISH_EVERY = 0.5
"""Seconds between two :class:`LabReports` events at least."""
MAX_BATCH = 5000
"""Beats and log messages in one event at most (reading back waits for the next event)."""
CONSUME_BATCH = 500
POLL_SECONDS = 0.2
OFFSETS_TIMEOUT = 2.0
"""Seconds one request for offsets may take (a stop waits for it)."""
PREFETCH_KIB = 4 * 1024

ConsumerFactory = Callable[[dict[str, Any]], Consumer]
Beats = list[tuple[Heartbeat, dt.datetime]]
Logs = list[tuple[LogBatch, dt.datetime]]


def topic_missing_sentence(topic: str) -> str:
    """The problem while a topic to read does not exist yet."""
    return (f"Topic {topic} does not exist yet: check its name, or create it "
            f"(openmsi topic create {topic}) so that programs can report to it.")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def seen_time(message: Message) -> dt.datetime:
    """The message's Kafka timestamp (aware, UTC); now when the broker gives none."""
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE or millis <= 0:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def decode(message: Message) -> Heartbeat | LogBatch | None:
    """A message of either topic as a heartbeat or a log message; None for anything else.

    Both are tried on both topics (a lab may send both to one topic).
    """
    key, value = message.key(), message.value()
    return decode_heartbeat(key, value) or decode_log(key, value)


class LabReader:
    """Follows a lab's heartbeat (and log) topic on a thread; publishes :class:`LabReports`.

    Args:
        config: the broker.
        bus: where the events go.
        heartbeat_topic: the heartbeat topic.
        log_topic: the log topic ("" for none; may be the heartbeat topic).
        since: how far back to start reading.
        name: the reader's name (the events' ``job`` and ``source``, the thread's name).
        consumer_factory: makes the consumer (tests).
        publish_every: see :data:`PUBLISH_EVERY`.
        max_batch: see :data:`MAX_BATCH`.
        unreachable_after: seconds of connection errors before the broker is said
            to be unreachable.
        probe_seconds: how often a missing topic or a broker that is away is asked for.
    """

    def __init__(self, config: KafkaConfig, bus: EventBus, heartbeat_topic: str,
                 log_topic: str = "", since: dt.timedelta = dt.timedelta(hours=1),
                 name: str = "lab", *, consumer_factory: ConsumerFactory = Consumer,
                 publish_every: float = PUBLISH_EVERY, max_batch: int = MAX_BATCH,
                 unreachable_after: float = UNREACHABLE_AFTER,
                 probe_seconds: float = PROBE_SECONDS) -> None:
        self.config = config
        self.bus = bus
        self.topics = tuple(dict.fromkeys(t for t in (heartbeat_topic, log_topic) if t))
        self.since = since
        self.name = name
        self._factory = consumer_factory
        self._publish_every = publish_every
        self._max_batch = max_batch
        self._probe_seconds = probe_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beats: Beats = []
        self._logs: Logs = []
        self._published_problem = ""
        self._missing: set[str] = set()
        self._failure = ""
        self._last_error = ""
        self._link = BrokerLink(EventBus(), name, config.bootstrap_servers, self._probe,
                                unreachable_after=unreachable_after,
                                probe_seconds=probe_seconds)
        self._consumer: Consumer | None = None
        self._cutoff = dt.datetime.now(dt.UTC) - since
        self.skipped = 0
        """Messages that were neither heartbeats nor log messages."""
        self.read = 0
        """Heartbeats and log messages decoded."""

    def start(self) -> None:
        """Start reading on a thread of its own."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lab-reader-{self.name}",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether its thread still runs (after :meth:`stop`: still closing its connection)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading; returns within ``timeout`` seconds whatever the broker does."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: the lab reader is still closing its connection; left to "
                            "finish on its own", self.name)

    # -- the reader's thread ---------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
            except Exception as exc:  # a bug must not end the view for good: start over
                log.exception("%s: the lab reader failed; starting again", self.name)
                self._failure = (f"Reading the lab topics failed ({escaped(str(exc), 200)}): "
                                 "see the log; trying again.")
                self._publish(force=True)
                self._stop.wait(2.0)

    def _read(self) -> None:
        group = f"openmsi-lab-{uuid.uuid4().hex[:12]}"  # librdkafka wants one; never joined
        settings: dict[str, Any] = {
            **self.config.consumer_settings(group), "enable.partition.eof": "false",
            "enable.auto.commit": "false", "auto.offset.reset": "latest",
            "queued.max.messages.kbytes": str(PREFETCH_KIB), "error_cb": self._on_error}
        consumer = self._factory(with_logger(settings))
        self._consumer = consumer
        self._missing = set()
        self._cutoff = dt.datetime.now(dt.UTC) - self.since
        assigned: set[str] = set()
        next_assign = 0.0
        next_publish = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if len(assigned) < len(self.topics) and now >= next_assign:
                    next_assign = now + self._probe_seconds
                    self._assign(consumer, assigned)
                room = self._max_batch - len(self._beats) - len(self._logs)
                if room <= 0:
                    self._stop.wait(max(0.0, next_publish - now))
                elif assigned:
                    self._take(consumer.consume(min(CONSUME_BATCH, room), timeout=POLL_SECONDS))
                else:
                    consumer.poll(0)  # nothing assigned: serves the error callback only
                    self._stop.wait(POLL_SECONDS)
                self._link.tick()
                if time.monotonic() >= next_publish and self._publish():
                    next_publish = time.monotonic() + self._publish_every
                self._failure = ""
        finally:
            self._consumer = None
            consumer.close()  # no group, nothing to commit: does not wait for the broker

    def _assign(self, consumer: Consumer, assigned: set[str]) -> None:
        """Assign the topics that exist (and were not yet) from ``since``."""
        try:
            metadata = consumer.list_topics(timeout=1.0)  # every topic: naming one may create it
        except KafkaException as exc:
            self._kafka_trouble(exc)
            if not assigned:
                consumer.poll(0)  # serves the error callback, which tells the link
            return
        self._link.answered()
        since_ms = int(self._cutoff.timestamp() * 1000)
        for topic in self.topics:
            if topic in assigned:
                continue
            info = metadata.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                if topic not in self._missing:
                    log.info("%s: topic %s does not exist yet; waiting for it", self.name,
                             escaped(topic))
                self._missing.add(topic)
                continue
            wanted = [KafkaPartition(topic, p, since_ms) for p in sorted(info.partitions)]
            try:
                found = consumer.offsets_for_times(wanted, timeout=OFFSETS_TIMEOUT)
            except KafkaException as exc:
                self._kafka_trouble(exc)
                return
            consumer.incremental_assign([
                KafkaPartition(topic, f.partition, f.offset if f.offset >= 0 else OFFSET_END)
                for f in found])
            assigned.add(topic)
            self._missing.discard(topic)
            log.debug("%s: reading %s from %s", self.name, escaped(topic),
                      dt.datetime.fromtimestamp(since_ms / 1000, dt.UTC).isoformat())

    def _take(self, messages: list[Message]) -> None:
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self._note(error)
                continue
            self._link.answered()
            seen = seen_time(message)
            if seen < self._cutoff:
                continue  # before ``since`` (offsets by time may start a little early)
            decoded = decode(message)
            if decoded is None:
                self._skip(message)
            elif isinstance(decoded, Heartbeat):
                self._beats.append((decoded, seen))
            else:
                self._logs.append((decoded, seen))

    def _skip(self, message: Message) -> None:
        self.skipped += 1
        if self.skipped == 1:
            log.info("%s: %s holds messages that are neither heartbeats nor log messages "
                     "(first at offset %s): skipped", self.name, escaped(message.topic()),
                     message.offset())

    def _problem(self) -> str:
        if self._link.unreachable:
            return _sentence(admin.explain(self._last_error or "unreachable",
                                           self.config.bootstrap_servers)) + " Retrying."
        # Only the heartbeat topic: a log topic nothing has logged to yet is not a problem.
        if self.topics[0] in self._missing:
            return topic_missing_sentence(escaped(self.topics[0]))
        return self._failure

    def _publish(self, force: bool = False) -> bool:
        """Publish what was decoded, and the problem if it changed; whether anything was."""
        problem = self._problem()
        if not (force or self._beats or self._logs or problem != self._published_problem):
            return False
        if problem != self._published_problem:
            log.info("%s: %s", self.name, problem or "reading the lab topics")
        beats, self._beats = tuple(self._beats), []
        logs, self._logs = tuple(self._logs), []
        self.read += len(beats) + len(logs)
        self._published_problem = problem
        self.bus.publish(LabReports(self.name, source=self.name, beats=beats, logs=logs,
                                    problem=problem))
        return True

    # -- the broker's answers ----------------------------------------------------------

    def _probe(self, timeout: float) -> list[str]:
        consumer = self._consumer
        if consumer is None:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return list(consumer.list_topics(timeout=timeout).topics)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in CONNECTION_ERRORS:
            self._last_error = str(error.str())
        self._link.on_error(error)

    def _kafka_trouble(self, exc: KafkaException) -> None:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() in CONNECTION_ERRORS:
            self._link.on_error(error)
        else:
            log.debug("%s: %s", self.name, exc)

    def _note(self, error: KafkaError) -> None:
        text = escaped(str(error.str()))
        if text != self._last_error:
            log.warning("%s: reading the lab topics: %s", self.name, text)
        self._last_error = text


def read_once(config: KafkaConfig, heartbeat_topic: str, log_topic: str = "",
              since: dt.timedelta = dt.timedelta(hours=1), timeout: float = 30.0, *,
              consumer_factory: ConsumerFactory = Consumer) -> tuple[Beats, Logs]:
    """The heartbeats and log messages since ``since`` ago, up to the topics' end now.

    A missing log topic is only logged (nothing has reported to it yet).

    Raises:
        BrokerError: the broker cannot be reached, or the heartbeat topic does not
            exist (a sentence saying what to do).
    """
    topics = admin.wait_for_topics(config, timeout=timeout) or {}
    if heartbeat_topic not in topics:
        raise admin.BrokerError(
            f"topic {heartbeat_topic!r} does not exist on {config.bootstrap_servers}: check "
            f"--heartbeat-topic, or create it (openmsi topic create {heartbeat_topic}) so "
            "that programs can report to it")
    beats: Beats = []
    logs: Logs = []
    skipped = 0

    cutoff = dt.datetime.now(dt.UTC) - since

    def handle(message: Message) -> None:
        nonlocal skipped
        seen = seen_time(message)
        if seen < cutoff:
            return  # before ``since`` (offsets by time may start a little early)
        decoded = decode(message)
        if decoded is None:
            skipped += 1
        elif isinstance(decoded, Heartbeat):
            beats.append((decoded, seen))
        else:
            logs.append((decoded, seen))

    start = cutoff.timestamp()
    read_topic(config, heartbeat_topic, handle, since=start, timeout=timeout,
               consumer_factory=consumer_factory)
    if log_topic and log_topic != heartbeat_topic:
        if log_topic in topics:
            read_topic(config, log_topic, handle, since=start, timeout=timeout,
                       consumer_factory=consumer_factory)
        else:
            log.warning("topic %s does not exist yet: no log messages to show",
                        escaped(log_topic))
    if skipped:
        log.info("skipped %d messages that are neither heartbeats nor log messages", skipped)
    return beats, logs
