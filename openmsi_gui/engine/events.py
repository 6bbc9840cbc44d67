"""Typed events the engine publishes, and the thread-safe bus that carries them.

Engine threads call :meth:`EventBus.publish`; subscribers are called in the
publishing thread, so a GUI must hop them onto its own thread (the Qt adapter
in ``openmsi_gui.ui`` does exactly that) and a subscriber must return quickly.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from openmsi_gui.engine.lab_wire import Heartbeat, LogBatch
from openmsi_gui.engine.os_errors import what_to_do
from openmsi_gui.engine.processing.api import ProcessingState

log = logging.getLogger(__name__)


class Direction(enum.Enum):
    """Which way a file moves."""

    UPLOAD = "upload"
    DOWNLOAD = "download"


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every engine event.

    Attributes:
        job: name of the job (watched folder, download, ...) that emitted it.
        at: wall-clock time the event was made.
    """

    job: str
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True, slots=True)
class FileDiscovered(Event):
    """A file is known and queued for transfer."""

    direction: Direction
    relpath: str
    size: int


@dataclass(frozen=True, slots=True)
class FileProgress(Event):
    """Some chunks of a file were acknowledged (upload) or stored (download)."""

    direction: Direction
    relpath: str
    done_bytes: int
    total_bytes: int
    done_chunks: int
    total_chunks: int


@dataclass(frozen=True, slots=True)
class FileCompleted(Event):
    """A file was fully sent, or fully received and verified."""

    direction: Direction
    relpath: str
    size: int
    sha512_hex: str
    seconds: float
    path: str = ""


@dataclass(frozen=True, slots=True)
class FileSkipped(Event):
    """A file needs no transfer (already sent or received with this content)."""

    direction: Direction
    relpath: str
    reason: str


@dataclass(frozen=True, slots=True)
class FileFailed(Event):
    """A file (or a message about one) could not be transferred."""

    direction: Direction
    relpath: str
    reason: str


@dataclass(frozen=True, slots=True)
class FileWaiting(Event):
    """A file cannot go further for now and will be retried (S3 down, keys missing)."""

    direction: Direction
    relpath: str
    reason: str


@dataclass(frozen=True, slots=True)
class FilesFiltered(Event):
    """A destination's download filter left out another file (read past, not written).

    ``count`` is how many files it left out since its job started.
    """

    count: int


@dataclass(frozen=True, slots=True)
class FileStalled(Event):
    """A file made no progress for the stall time while its job could reach the broker.

    Published by :class:`openmsi_gui.app.stalls.StallWatch`; the next progress of
    the file ends it.
    """

    direction: Direction
    relpath: str
    idle_seconds: float
    reason: str


class DeliveryStatus(enum.Enum):
    """What a destination's verified receipt says about a file sent from here."""

    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FileDelivery(Event):
    """A destination confirmed (or refused) a file this job sent, by a verified receipt.

    Every text came from a receipt and is escaped.

    Attributes:
        relpath: the file's path relative to the watched folder.
        sha512_hex: the content the receipt confirms.
        destination: the destination's name.
        status: delivered, or failed there.
        confirmed_at: when the destination made the receipt (its clock).
        reason: why it failed there ("" if delivered).
        where: where the destination stored it ("" if it failed).
    """

    relpath: str
    sha512_hex: str
    destination: str
    status: DeliveryStatus
    confirmed_at: float
    reason: str = ""
    where: str = ""


@dataclass(frozen=True, slots=True)
class FileUnconfirmed(Event):
    """A file sent from here that expected destinations did not confirm by the deadline.

    Published by :class:`~openmsi_gui.engine.confirmation.DeadlineWatch`, once
    per sending of a file (and again after a restart); a
    :class:`FileDelivery` from each destination missing ends it.

    Attributes:
        relpath: the file's path relative to the watched folder.
        sha512_hex: the content sent.
        size: its size in bytes.
        sent_at: when the broker had acknowledged all of it.
        missing: the expected destinations that have not confirmed it.
        reason: what the row and the log say, with what to do.
        resending: it is being sent again by itself (``--resend``).
    """

    relpath: str
    sha512_hex: str
    size: int
    sent_at: float
    missing: tuple[str, ...]
    reason: str
    resending: bool = False


@dataclass(frozen=True, slots=True)
class FileProcessed(Event):
    """A received file's processing started, succeeded or failed (see :mod:`.processing`).

    Attributes:
        relpath: the file's path relative to the destination (escaped).
        sha512_hex: its content.
        state: RUNNING, OK or FAILED (values of
            :class:`~openmsi_gui.engine.processing.api.ProcessingState`).
        processor: the processor's name.
        reason: why it failed, with what to do ("" otherwise; escaped).
        output: what it printed (bounded, escaped; "" while running).
    """

    relpath: str
    sha512_hex: str
    state: ProcessingState
    processor: str
    reason: str = ""
    output: str = ""

    @property
    def ok(self) -> bool:
        """Whether it succeeded."""
        return self.state is ProcessingState.OK


class ConnectionStatus(enum.Enum):
    """State of a job's link to the broker."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"  # no answer for a while; librdkafka keeps retrying
    TOPIC_MISSING = "topic missing"  # a consumer waits for its topic to be created
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ConnectionState(Event):
    """A job's broker connection changed state.

    Attributes:
        status: the new state.
        detail: more about it (the topic, for ``TOPIC_MISSING``).
        servers: the broker's ``bootstrap.servers``, when known.
        down_since: for ``UNREACHABLE``, and ``CONNECTED`` after it, when the
            broker stopped answering (epoch seconds).
    """

    status: ConnectionStatus
    detail: str = ""
    servers: str = ""
    down_since: float | None = None


class JobStatus(enum.Enum):
    """Where a job is, as its :class:`JobState` events tell."""

    RUNNING = "running"
    WATCHING = "watching"  # a watched folder's watcher is up (after RUNNING)
    PAUSED = "paused"
    WAITING = "waiting"  # cannot go on for now (disk full, restarting); retried by itself
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class JobState(Event):
    """A job started, paused, resumed, waits, failed or stopped."""

    state: JobStatus
    detail: str = ""


def job_died(logger: logging.Logger, bus: EventBus, job: str, what: str,
             error: BaseException) -> None:
    """Log that ``what`` of ``job`` stopped on ``error`` (with its traceback); publish FAILED.

    For the threads a job runs on: the controller (or the CLI's supervisor)
    sees the FAILED state and restarts the job.
    """
    logger.error("%s: %s on an unexpected error", job, what, exc_info=error)
    bus.publish(JobState(job, JobStatus.FAILED, what_to_do(error) or str(error) or repr(error)))


@dataclass(frozen=True, slots=True)
class PauseState(Event):
    """Every transfer was paused (until ``until``, epoch seconds, if set) or resumed.

    ``job`` is empty: the pause is the whole application's.
    """

    paused: bool
    until: float | None = None


class JobKind(enum.Enum):
    """What a job of the application serves; the value prefixes its wire name."""

    FOLDER = "folder"
    DESTINATION = "dest"


@dataclass(frozen=True, slots=True)
class JobId:
    """The identity of a job run for a watched folder or a destination.

    Events carry it as text (``str(job_id)``, e.g. ``"folder:1a2b"``), because
    jobs started from the command line have free-form names; :meth:`parse`
    reads it back.
    """

    kind: JobKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, name: str) -> JobId | None:
        """The identity in the event job name ``name``, or None for other jobs."""
        prefix, sep, ident = name.partition(":")
        kind = next((k for k in JobKind if k.value == prefix), None)
        return cls(kind, ident) if kind is not None and sep and ident else None


@dataclass(frozen=True, slots=True)
class LabReports(Event):
    """Heartbeats and log messages a lab reader decoded since its previous report.

    Published by :class:`~openmsi_gui.engine.lab_reader.LabReader` at most
    every half second (and when its problem changes). Every text inside was
    escaped by :mod:`~openmsi_gui.engine.lab_wire`.

    Attributes:
        job: the reader's name (as ``source``; "" when made by hand).
        source: the reader's name.
        beats: each heartbeat with its Kafka timestamp (aware, UTC), oldest first.
        logs: each log message with its Kafka timestamp (aware, UTC), oldest first.
        problem: one sentence when the reader cannot read (broker unreachable, topic
            missing), "" once it reads.
    """

    job: str = ""
    source: str = ""
    beats: tuple[tuple[Heartbeat, dt.datetime], ...] = ()
    logs: tuple[tuple[LogBatch, dt.datetime], ...] = ()
    problem: str = ""


Subscriber = Callable[[Event], None]


class EventBus:
    """Fan engine events out to subscribers; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` for every event; return a function that unsubscribes."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber; a failing subscriber is logged, not raised."""
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, type(event).__name__)
