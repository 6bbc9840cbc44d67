"""What a job's heartbeat says about it: its counters, and what its events tell.

:class:`TransferCounts` holds OpenMSIStream's counters since the job started
(the uploader and the downloader add to them); :class:`JobTally` follows the
job's events on the bus for its problem sentence, failed files and last file.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Event,
    FileCompleted,
    FileFailed,
    FileProgress,
    FileStalled,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.lab_wire import Counters

MAX_FAILED_REMEMBERED = 10_000
LinkWords = Callable[[ConnectionState], "str | None"]
"""The sentence the user sees for a link problem (None: it ends one, or is none)."""


class TransferCounts:
    """OpenMSIStream's counters of one job since it started (any thread; a few ints)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # messages/bytes produced, read, processed; files: in Counters' order
        self._values = [0] * 7

    def _add(self, first: int, nbytes: int) -> None:
        with self._lock:
            self._values[first] += 1
            self._values[first + 1] += nbytes

    def produced(self, nbytes: int) -> None:
        """A message of ``nbytes`` (its value) was acknowledged by the broker."""
        self._add(0, nbytes)

    def read(self, nbytes: int) -> None:
        """A message of ``nbytes`` was read."""
        self._add(2, nbytes)

    def processed(self, nbytes: int) -> None:
        """A message of ``nbytes`` was processed: its chunk written."""
        self._add(4, nbytes)

    def file_done(self) -> None:
        """A file was sent whole, or received and verified."""
        with self._lock:
            self._values[6] += 1

    def snapshot(self) -> Counters:
        """The counts so far."""
        with self._lock:
            return Counters(*self._values)


class JobTally:
    """What a job's events say about it: problems, failed files, the last file (a subscriber)."""

    def __init__(self, job: str, counts: TransferCounts, link_words: LinkWords | None) -> None:
        self.job = job
        self._counts = counts
        self._link_words = link_words
        self._lock = threading.Lock()
        self._failed: dict[str, None] = {}
        self._stalled: set[str] = set()
        self._link_problem = ""
        self._job_problem = ""
        self.paused = False
        self.last_file = ""
        self.last_file_time: dt.datetime | None = None

    def __call__(self, event: Event) -> None:
        """Follow one event (any thread)."""
        if event.job != self.job:
            return
        with self._lock:
            if isinstance(event, FileCompleted):
                self._counts.file_done()
                self._failed.pop(event.relpath, None)
                self._stalled.discard(event.relpath)
                self.last_file = event.relpath
                self.last_file_time = dt.datetime.fromtimestamp(event.at, dt.UTC)
            elif isinstance(event, FileFailed):
                self._stalled.discard(event.relpath)
                self._failed[event.relpath] = None
                if len(self._failed) > MAX_FAILED_REMEMBERED:
                    del self._failed[next(iter(self._failed))]
            elif isinstance(event, FileStalled):
                self._stalled.add(event.relpath)
            elif isinstance(event, FileProgress):
                self._stalled.discard(event.relpath)
            elif isinstance(event, ConnectionState):
                self._link_problem = self._link_sentence(event)
            elif isinstance(event, JobState):
                self.paused = event.state is JobStatus.PAUSED
                self._job_problem = (event.detail or event.state.value) if event.state in (
                    JobStatus.WAITING, JobStatus.FAILED) else ""

    def _link_sentence(self, event: ConnectionState) -> str:
        if self._link_words is not None:
            return self._link_words(event) or ""
        if event.status is ConnectionStatus.UNREACHABLE:
            return f"Cannot reach the broker at {event.servers}"
        if event.status is ConnectionStatus.TOPIC_MISSING:
            return f"Waiting for topic {event.detail} to be created"
        return ""

    @property
    def failed(self) -> int:
        """Files that failed since the start and were not done since."""
        with self._lock:
            return len(self._failed)

    @property
    def problem(self) -> str:
        """The one sentence the job's user sees now ("" when all is well)."""
        with self._lock:
            if self._link_problem or self._job_problem:
                return self._link_problem or self._job_problem
            if self._stalled:
                n = len(self._stalled)
                return f"{n} file{'s' if n != 1 else ''} without progress"
            return ""
