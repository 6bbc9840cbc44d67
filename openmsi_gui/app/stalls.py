"""Files that stopped moving: no progress for the stall time while the broker is reachable.

A file can stop for good with nothing failing: its last chunks were lost by a
broker that forgot them, a consumer holds its partition without fetching, an
upload waits for acknowledgements that never come. :class:`StallWatch` follows
the engine's events and publishes a :class:`~openmsi_gui.engine.events.FileStalled`
for such a file, so the app shows it as *Stalled* (with Retry and Send again)
and the command line says what to do. Time spent paused, with the job stopped or
waiting, or with the broker unreachable does not count: those have their own
state and message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.app.settings import Settings
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    Event,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileStalled,
    FileWaiting,
    JobState,
    JobStatus,
    PauseState,
)
from openmsi_gui.engine.registry import HistoryRow
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

DEFAULT_STALL_MINUTES = 2.0
MIN_STALL_SECONDS = 1.0
MAX_CHECK_SECONDS = 10.0

_Key = tuple[str, Direction, str]
_JOB_HELD = frozenset({JobStatus.PAUSED, JobStatus.WAITING, JobStatus.FAILED,
                       JobStatus.STOPPED})
_LINK_HELD = frozenset({ConnectionStatus.UNREACHABLE, ConnectionStatus.TOPIC_MISSING})
"""A job's files do not move while its broker does not answer or its topic is missing."""


def stall_reason(direction: Direction, idle_seconds: float) -> str:
    """What a stalled file's row and log line say: how long, and what to do."""
    idle = _duration(idle_seconds)
    if direction is Direction.UPLOAD:
        return (f"no progress for {idle} although the broker answers: select it and press "
                "Send again (openmsi send-again)")
    return (f"no progress for {idle} although the broker answers: press Retry to read it "
            "again, or Send again on the sending computer (openmsi send-again)")


def resend_target(settings: Settings, row: HistoryRow) -> tuple[str, str] | None:
    """The watched folder id and path with which ``row`` of the history can be sent again.

    That is an upload from a folder that is still watched, to the same topic
    (after a restart, a file the receivers never got whole is only in the history).
    """
    if row.direction != "upload" or not row.root:
        return None
    for folder in settings.folders:
        if folder.topic == row.topic and str(Path(folder.path)) == row.root:
            return folder.id, row.relpath
    return None


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"2 min"``, ``"2 min 10 s"``, ``"1 h 5 min"``."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


@dataclass
class _Moving:
    last: float  # when it last moved (or when counting resumed)
    stalled: bool = False


class StallWatch:
    """Turn files without progress into :class:`FileStalled` events.

    Subscribe it to the bus (the constructor does) and call :meth:`check`
    regularly, or let :meth:`start` run a thread that does.

    Args:
        bus: the events to follow, and where :class:`FileStalled` goes.
        stall_seconds: how long without progress makes a file stalled.
        clock: the time (events' ``at`` are compared with it); injectable for tests.
    """

    def __init__(self, bus: EventBus, stall_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._bus = bus
        self._clock = clock
        self._stall_seconds = max(MIN_STALL_SECONDS, stall_seconds)
        self._files: dict[_Key, _Moving] = {}
        self._held_jobs: set[str] = set()  # paused, stopped, waiting or cut off
        self._paused = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = bus.subscribe(self)

    @property
    def stall_seconds(self) -> float:
        """How long without progress makes a file stalled."""
        return self._stall_seconds

    @stall_seconds.setter
    def stall_seconds(self, seconds: float) -> None:
        self._stall_seconds = max(MIN_STALL_SECONDS, seconds)

    def __call__(self, event: Event) -> None:
        """Follow one engine event (any thread)."""
        with self._lock:
            if isinstance(event, (FileDiscovered, FileProgress)):
                key = (event.job, event.direction, event.relpath)
                self._files[key] = _Moving(max(event.at, self._resumed_at(key)))
            elif isinstance(event, (FileCompleted, FileFailed, FileSkipped, FileWaiting)):
                self._files.pop((event.job, event.direction, event.relpath), None)
            elif isinstance(event, JobState):
                self._follow_job(event.job, event.state in _JOB_HELD)
            elif isinstance(event, ConnectionState):
                self._follow_job(event.job, event.status in _LINK_HELD)
            elif isinstance(event, PauseState) and not event.job:
                self._paused = event.paused
                if not event.paused:
                    self._restart_clocks(lambda _key: True)

    def _resumed_at(self, key: _Key) -> float:
        moving = self._files.get(key)
        return moving.last if moving is not None else 0.0

    def _follow_job(self, job: str, held: bool) -> None:
        if held:
            self._held_jobs.add(job)
        elif job in self._held_jobs:
            self._held_jobs.discard(job)
            self._restart_clocks(lambda key: key[0] == job)

    def _restart_clocks(self, which: Callable[[_Key], bool]) -> None:
        """Time held does not count: files start their stall time again now."""
        now = self._clock()
        for key, moving in self._files.items():
            if which(key) and not moving.stalled:
                moving.last = now

    def check(self) -> list[FileStalled]:
        """Publish (and return) a :class:`FileStalled` for each file that just stalled."""
        now = self._clock()
        found: list[FileStalled] = []
        with self._lock:
            if self._paused:
                return found
            for (job, direction, relpath), moving in self._files.items():
                idle = now - moving.last
                if moving.stalled or job in self._held_jobs or idle < self._stall_seconds:
                    continue
                moving.stalled = True
                found.append(FileStalled(job, direction, relpath, idle,
                                         stall_reason(direction, idle)))
        for event in found:
            # A download's name came from a message: escaped, like every such name.
            log.warning("%s: %s has stalled: %s", event.job, escaped(event.relpath),
                        event.reason)
            self._bus.publish(event)
        return found

    def start(self) -> StallWatch:
        """Check on a thread of its own, often enough for the stall time, until :meth:`stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="openmsi-stall-watch",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the checking thread and stop following the bus."""
        self._unsubscribe()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(min(MAX_CHECK_SECONDS, self._stall_seconds / 4)):
            try:
                self.check()
            except Exception:  # a bug here must not end the watch silently
                log.exception("checking for stalled files failed")
