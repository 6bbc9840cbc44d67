"""Heartbeats of a long-running job, ticked from the job's own working thread.

A :class:`Reporter` belongs to one job (a watched folder's uploader, a
download's consumer). The job's loop calls :meth:`Reporter.tick` as it goes
round; every ``interval`` seconds the reporter produces one heartbeat
(:func:`~openmsi_gui.engine.lab_wire.encode_heartbeat`, OpenMSIStream's counters
since the previous beat plus our fields), and its log messages
(:mod:`.kafka_log`). A job that hangs or dies stops beating, since nothing
else ticks it.

On the data's broker the beats go through the job's own producer, so a transfer
that cannot produce cannot beat either; a ``[heartbeat]`` (or ``[log]``) config
section naming other ``bootstrap.servers`` (or ``prefer.separate.producer``)
gets a producer of its own, as in OpenMSIStream. Reporting never holds the job
up: at most one beat is in flight (one not delivered yet means the next is
skipped and its counts go into the one after), a full queue skips the beat, and
only :meth:`Reporter.stop` flushes, briefly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from openmsi_gui import __version__
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.job_tally import JobTally, LinkWords, TransferCounts
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.kafka_log import LogShipper
from openmsi_gui.engine.lab_wire import (
    Counters,
    Heartbeat,
    ReportedState,
    ReportKind,
    encode_heartbeat,
    heartbeat_key,
    utc_now,
)
from openmsi_gui.engine.link import with_logger

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
"""Seconds between heartbeats (and log messages) when none is given."""
STOP_FLUSH_SECONDS = 2.0
"""How long :meth:`Reporter.stop` waits for a producer of its own to deliver."""
STOP_FLUSH_TROUBLED = 0.3
"""The same while the job has a problem (its broker away, say): stopping does not wait."""
_SEPARATE_ONLY_KEYS = frozenset({"prefer.separate.producer", "max.logs.per.message",
                                 "log.level", "key.serializer", "value.serializer"})

ProducerFactory = Callable[[dict[str, Any]], Producer]


def host_name() -> str:
    """The short name of this computer (the default program name)."""
    return socket.gethostname().split(".")[0] or "localhost"


def config_fingerprint(values: Mapping[str, object]) -> str:
    """A short hash of a job's settings (without secrets): it changes when they change."""
    text = json.dumps(dict(values), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def separate_config(config: KafkaConfig, section: str) -> KafkaConfig | None:
    """The broker a ``[heartbeat]`` or ``[log]`` section names, or None for the data's.

    As OpenMSIStream: the section's keys are librdkafka settings; with its own
    ``bootstrap.servers`` it is another broker, without one the data broker's
    settings come first; ``prefer.separate.producer`` asks for a producer of its
    own even on the data's broker.
    """
    values = config.sections.get(section, {})
    separate = values.get("prefer.separate.producer", "").lower() in ("1", "true", "yes")
    if "bootstrap.servers" not in values and not separate:
        return None
    own = {k: v for k, v in values.items() if k not in _SEPARATE_ONLY_KEYS}
    broker = own if "bootstrap.servers" in own else {**config.broker, **own}
    return KafkaConfig(broker=broker, source=config.source)


@dataclass(frozen=True)
class ReportTarget:
    """Where and how often a job reports (heartbeats and/or log messages).

    Attributes:
        heartbeat_topic: the heartbeat topic ("" for no heartbeats).
        heartbeat_program_id: the program id of the heartbeats' keys.
        heartbeat_interval: seconds between heartbeats.
        log_topic: the log topic ("" for no log messages).
        log_program_id: the program id of the log messages' keys.
        log_interval: seconds between log messages (sent only when there are new lines).
        heartbeat_config: the heartbeats' own broker (None: the data's, same producer).
        log_config: the log messages' own broker (None: the data's).
        host: the host name the beats carry.
    """

    heartbeat_topic: str = ""
    heartbeat_program_id: str = ""
    heartbeat_interval: float = DEFAULT_INTERVAL
    log_topic: str = ""
    log_program_id: str = ""
    log_interval: float = DEFAULT_INTERVAL
    heartbeat_config: KafkaConfig | None = None
    log_config: KafkaConfig | None = None
    host: str = dataclasses.field(default_factory=host_name)

    @property
    def enabled(self) -> bool:
        """Whether anything is reported."""
        return bool(self.heartbeat_topic or self.log_topic)


@dataclass(frozen=True)
class JobReporting:
    """What a job reports as, besides what it counts itself.

    Attributes:
        target: where it reports.
        job: the job's name as its user knows it ("inbox", "watch").
        fingerprint: :func:`config_fingerprint` of its settings.
        link_words: the sentence its user sees for a link problem.
    """

    target: ReportTarget
    job: str
    fingerprint: str = ""
    link_words: LinkWords | None = None


class Reporter:
    """A job's heartbeats and log messages (see the module's docstring).

    Args:
        reporting: where and as what the job reports.
        kind: what kind of job.
        folder: where its files are read or written (free space), "" for none.
        counts: its counters (the job adds to them).
        bus: its events (for the problems, failed files, last file).
        engine_job: the job's name in its events.
        waiting: how many files wait to be done now (the job's own count).
        producer_factory: makes producers of its own (a fake in unit tests).
        clock: monotonic seconds (unit tests).
    """

    def __init__(self, reporting: JobReporting, kind: ReportKind, folder: str,
                 counts: TransferCounts, bus: EventBus, engine_job: str,
                 waiting: Callable[[], int] = lambda: 0,
                 producer_factory: ProducerFactory = Producer,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reporting = reporting
        self.target = reporting.target
        self.kind = kind
        self.folder = folder
        self.counts = counts
        self._bus = bus
        self._waiting = waiting
        self._factory = producer_factory
        self._clock = clock
        self.tally = JobTally(engine_job, counts, reporting.link_words)
        self._unsubscribe: Callable[[], None] | None = None
        self._own: list[Producer] = []
        self._beat_producer: Producer | None = None
        self._base = Counters()  # the totals at the previous beat
        self._in_flight: Counters | None = None  # the base before the beat in flight
        self._next_beat = 0.0
        self._started = utc_now()
        self.beats_produced = 0
        self.beats_skipped = 0
        self.logs: LogShipper | None = None
        self._stopped = False
        self._lock = threading.Lock()  # tick (the job's thread) against stop (another)
        self._told_refusal = False

    def start(self, data_producer: Producer | None, data_config: KafkaConfig) -> None:
        """Begin reporting (the job's start, once its producer exists, if it has one).

        Args:
            data_producer: the job's producer on the data's broker (None: make one).
            data_config: the data's broker.
        """
        self._unsubscribe = self._bus.subscribe(self.tally)
        self._started = utc_now()
        target = self.target
        if target.heartbeat_topic:
            self._beat_producer = self._producer_for(target.heartbeat_config, data_producer,
                                                     data_config)
            self._next_beat = self._clock() + target.heartbeat_interval
        if target.log_topic:
            producer = self._producer_for(target.log_config, data_producer, data_config)
            servers = (target.log_config or data_config).bootstrap_servers
            self.logs = LogShipper(producer, target.log_topic, target.log_program_id,
                                   target.log_interval, servers, target.host, self._clock)

    def _producer_for(self, own: KafkaConfig | None, data_producer: Producer | None,
                      data_config: KafkaConfig) -> Producer:
        if own is None and data_producer is not None:
            return data_producer
        config = own or data_config
        if own is None and self._own:  # one producer of its own on the data's broker
            return self._own[0]
        settings = with_logger({**config.producer_settings(), "linger.ms": "100"})
        producer: Producer = self._factory(settings)
        self._own.append(producer)
        return producer

    def tick(self) -> None:
        """Beat and ship log lines when due (the job's working thread; never blocks)."""
        if not self._lock.acquire(blocking=False):
            return  # stopping
        try:
            if self._stopped:
                return
            now = self._clock()
            for producer in self._own:
                producer.poll(0)
            if self._beat_producer is not None and now >= self._next_beat:
                self._next_beat = now + self.target.heartbeat_interval
                self._beat()
            if self.logs is not None:
                self.logs.tick(now)
        finally:
            self._lock.release()

    def stop(self) -> None:
        """A final beat and the last log lines; flush producers of its own (briefly).

        Call it before the job's own producer is flushed and closed: that flush
        delivers what went through it.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._final()

    def _final(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._beat_producer is not None:
            self._beat(final=True)
        if self.logs is not None:
            self.logs.tick(self._clock(), force=True)
        for producer in self._own:
            producer.flush(STOP_FLUSH_TROUBLED if self.tally.problem else STOP_FLUSH_SECONDS)
        if self.logs is not None:
            self.logs.close()

    def _beat(self, final: bool = False) -> None:
        """Produce one heartbeat, unless the previous one is still on its way."""
        assert self._beat_producer is not None
        if self._in_flight is not None and not final:
            self.beats_skipped += 1  # its counts go into the next one
            return
        totals = self.counts.snapshot()
        beat = self.heartbeat(totals)
        previous = self._base
        self._in_flight, self._base = previous, totals

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if self._in_flight is not previous:
                return  # a later beat (the final one) took over
            self._in_flight = None
            if err is not None:  # not delivered: its counts go into the next one
                self._base = previous
                self._refused(err)
            else:
                self._told_refusal = False

        try:
            self._beat_producer.produce(self.target.heartbeat_topic, value=encode_heartbeat(beat),
                                        key=heartbeat_key(beat.program_id).encode("utf-8"),
                                        on_delivery=delivered)
            self.beats_produced += 1
        except Exception as exc:  # BufferError (a full queue), or any: never break the job
            self._in_flight, self._base = None, previous
            self.beats_skipped += 1
            log.debug("a heartbeat was not produced: %s", exc)

    def _refused(self, err: KafkaError) -> None:
        """Say once (until one is delivered again) that beats do not get through."""
        if self._told_refusal:
            return
        self._told_refusal = True
        topic = self.target.heartbeat_topic
        log.warning("%s: heartbeats cannot be written to topic %s (%s): check that it exists "
                    "('openmsi topic create %s')", self.tally.job, topic, err.str(), topic)

    def heartbeat(self, totals: Counters) -> Heartbeat:
        """The heartbeat for now, counting since the previous one."""
        delta = totals - self._base
        problem = self.tally.problem
        waiting = max(0, self._waiting())
        if problem:
            state = ReportedState.NEEDS_ATTENTION
        elif waiting or delta != Counters():
            state = ReportedState.WORKING
        else:
            state = ReportedState.IDLE
        target = self.target
        return Heartbeat(
            program_id=target.heartbeat_program_id, timestamp=utc_now(), delta=delta,
            totals=totals, interval=target.heartbeat_interval, host=target.host,
            app_version=__version__, kind=self.kind, job=self.reporting.job, state=state,
            problem=problem, files_waiting=waiting, files_failed=self.tally.failed,
            last_file=self.tally.last_file, last_file_time=self.tally.last_file_time,
            folder=self.folder, free_bytes=free_bytes(self.folder),
            config_fingerprint=self.reporting.fingerprint,
            log_program_id=target.log_program_id if target.log_topic else "",
            started=self._started)


def free_bytes(folder: str) -> int | None:
    """Free space where ``folder`` is (None when unknown or no folder)."""
    if not folder:
        return None
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None
