"""What is moving right now, built from engine events (no Qt).

The :class:`TransferBook` keeps one row per file and direction with its
progress, rate, ETA and error, a per-second throughput history for the plot,
and the overall status the tray shows. The Qt models render it.
"""

from __future__ import annotations

import collections
import enum
import time
from dataclasses import dataclass, field

from openmsi_gui.app.formatting import rate_or_zero
from openmsi_gui.engine.events import (
    Direction,
    Event,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileWaiting,
    JobState,
    JobStatus,
)

HISTORY_SECONDS = 300


class RowStatus(enum.Enum):
    """Where one file's transfer is."""

    QUEUED = "queued"
    ACTIVE = "transferring"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAITING = "waiting"  # kept, retried later: S3 unreachable, decryption keys missing


class AppStatus(enum.Enum):
    """The one-word state of the whole app (the tray icon)."""

    IDLE = "idle"
    TRANSFERRING = "transferring"
    PAUSED = "paused"
    ERROR = "error"


RowKey = tuple[str, Direction, str]
_FINISHED = frozenset({RowStatus.DONE, RowStatus.FAILED, RowStatus.SKIPPED})
_JOB_GOES_ON = frozenset({JobStatus.RUNNING, JobStatus.WATCHING, JobStatus.STOPPED})
_JOB_HALTED = frozenset({JobStatus.FAILED, JobStatus.STOPPED})


@dataclass
class TransferRow:
    """One file moving in one direction for one job."""

    job: str
    direction: Direction
    relpath: str
    status: RowStatus = RowStatus.QUEUED
    done_bytes: int = 0
    total_bytes: int = 0
    done_chunks: int = 0
    total_chunks: int = 0
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    rate: float = 0.0
    error: str = ""
    sha512_hex: str = ""

    @property
    def key(self) -> RowKey:
        """``(job, direction, relpath)``."""
        return (self.job, self.direction, self.relpath)

    @property
    def fraction(self) -> float:
        """Progress from 0 to 1 (by bytes when known, else by chunks)."""
        if self.status is RowStatus.DONE:
            return 1.0
        if self.total_bytes:
            return min(1.0, self.done_bytes / self.total_bytes)
        if self.total_chunks:
            return self.done_chunks / self.total_chunks
        return 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, if it can be told."""
        if self.status is not RowStatus.ACTIVE or self.rate <= 0 or self.fraction <= 0:
            return None
        total = self.total_bytes or self.done_bytes / self.fraction
        return max(0.0, (total - self.done_bytes) / self.rate)


@dataclass(frozen=True)
class Summary:
    """Counts for the tooltip and status bar."""

    active: int
    failed: int
    done: int
    up_rate: float
    down_rate: float
    waiting: int = 0  # retried by themselves (an S3 upload, encrypted messages awaiting keys)


class TransferBook:
    """Fold engine events into rows, throughput and status.

    Counts per status are kept as rows change, so the status and summary
    cost the same with ten rows or ten thousand (they are asked often).

    Args:
        max_rows: finished rows beyond this are dropped, oldest first (the
            registry keeps the full history).
    """

    def __init__(self, max_rows: int = 2000) -> None:
        self.max_rows = max_rows
        self.rows: collections.OrderedDict[RowKey, TransferRow] = collections.OrderedDict()
        self._counts: collections.Counter[RowStatus] = collections.Counter()
        self._finished: collections.OrderedDict[RowKey, None] = collections.OrderedDict()
        self.job_errors: dict[str, str] = {}  # job name -> why it failed, until it runs again
        self.job_waits: dict[str, str] = {}  # job name -> what it waits for (disk full...)
        self.unseen_failures = 0
        self._second = int(time.time())
        self._bucket = [0, 0]
        self.throughput: collections.deque[tuple[int, int, int]] = collections.deque(
            maxlen=HISTORY_SECONDS)

    def apply(self, event: Event) -> TransferRow | None:
        """Fold ``event`` in; return the row it changed, if any.

        Rates use the events' own timestamps, so events that reach the GUI in
        one batch still give true rates.
        """
        if isinstance(event, JobState):
            self._apply_job_state(event)
            return None
        if not isinstance(event, (FileDiscovered, FileProgress, FileCompleted, FileFailed,
                                  FileSkipped, FileWaiting)):
            return None
        row = self._row_for(event)
        status = row.status
        if isinstance(event, FileDiscovered):
            row.total_bytes = event.size
        elif isinstance(event, FileProgress):
            status = self._progress(row, event)
        elif isinstance(event, FileCompleted):
            status = self._completed(row, event)
        elif isinstance(event, FileFailed):
            status = RowStatus.FAILED
            row.error = event.reason
            self.unseen_failures += 1
        elif isinstance(event, FileSkipped):
            status = RowStatus.SKIPPED
            row.error = event.reason
        else:
            if row.status is not RowStatus.WAITING:
                self.unseen_failures += 1
            status = RowStatus.WAITING
            row.error = event.reason
            row.rate = 0.0
        row.updated = event.at
        self._set_status(row, status)
        return row

    def _row_for(self, event: FileDiscovered | FileProgress | FileCompleted | FileFailed
                 | FileSkipped | FileWaiting) -> TransferRow:
        """The row ``event`` is about: a new one for a new file or a new generation."""
        key: RowKey = (event.job, event.direction, event.relpath)
        row = self.rows.get(key)
        if row is None or (isinstance(event, FileDiscovered) and row.status is not
                           RowStatus.ACTIVE):
            if row is not None:
                self._set_status(row, None)
            row = TransferRow(event.job, event.direction, event.relpath, started=event.at,
                              updated=event.at)
            self.rows[key] = row
            self._counts[row.status] += 1
            self._trim()
        self.rows.move_to_end(key)
        return row

    def _progress(self, row: TransferRow, event: FileProgress) -> RowStatus:
        moved = max(0, event.done_bytes - row.done_bytes)
        if row.status is not RowStatus.ACTIVE and event.done_chunks > 1:
            # Resumed: earlier chunks moved in a previous run; count about one chunk.
            moved = min(moved, event.done_bytes // event.done_chunks)
        else:
            elapsed = event.at - row.updated
            if moved and elapsed > 0:
                instant = moved / elapsed
                row.rate = instant if not row.rate else 0.7 * row.rate + 0.3 * instant
        self._count(event.direction, moved)
        row.done_bytes, row.done_chunks = event.done_bytes, event.done_chunks
        row.total_chunks = event.total_chunks
        row.total_bytes = event.total_bytes or row.total_bytes
        row.error = ""
        return RowStatus.ACTIVE

    def _completed(self, row: TransferRow, event: FileCompleted) -> RowStatus:
        self._count(event.direction, max(0, event.size - row.done_bytes))
        row.done_bytes = row.total_bytes = event.size
        row.done_chunks = row.total_chunks
        row.sha512_hex = event.sha512_hex
        row.rate = event.size / event.seconds if event.seconds > 0 else row.rate
        row.error = ""
        return RowStatus.DONE

    def _apply_job_state(self, event: JobState) -> None:
        if event.state is JobStatus.FAILED:
            self.job_errors[event.job] = event.detail or "the job stopped"
            self.job_waits.pop(event.job, None)
            self.unseen_failures += 1
        elif event.state is JobStatus.WAITING:
            self.job_waits[event.job] = event.detail
        elif event.state in _JOB_GOES_ON:
            self.forget_job_problem(event.job)
        if event.state in _JOB_HALTED:
            for row in self.rows.values():
                if row.job == event.job and row.status is RowStatus.ACTIVE:
                    row.error = "interrupted; it resumes when the job runs again"
                    self._set_status(row, RowStatus.QUEUED)

    def forget_job_problem(self, job: str) -> None:
        """Drop what :attr:`job_errors` and :attr:`job_waits` say about ``job``."""
        self.job_errors.pop(job, None)
        self.job_waits.pop(job, None)

    def _set_status(self, row: TransferRow, status: RowStatus | None) -> None:
        """Move ``row`` to ``status`` (None: the row is being dropped), keeping counts."""
        self._counts[row.status] -= 1
        self._finished.pop(row.key, None)
        if status is None:
            return
        row.status = status
        self._counts[status] += 1
        if status in _FINISHED:
            self._finished[row.key] = None

    def _trim(self) -> None:
        while len(self.rows) > self.max_rows and self._finished:
            oldest, _ = self._finished.popitem(last=False)
            row = self.rows.pop(oldest)
            self._counts[row.status] -= 1

    def _count(self, direction: Direction, moved: int) -> None:
        self.tick()
        self._bucket[0 if direction is Direction.UPLOAD else 1] += moved

    def tick(self) -> None:
        """Close finished one-second throughput buckets (call about once a second)."""
        now = int(time.time())
        while self._second < now:
            self.throughput.append((self._second, self._bucket[0], self._bucket[1]))
            self._bucket = [0, 0]
            self._second += 1
            if now - self._second > HISTORY_SECONDS:
                self._second = now - HISTORY_SECONDS

    def summary(self) -> Summary:
        """Counts over the current rows and the last few seconds' rates."""
        counts = self._counts
        recent = list(self.throughput)[-3:]
        seconds = max(1, len(recent))
        return Summary(counts[RowStatus.ACTIVE] + counts[RowStatus.QUEUED],
                       counts[RowStatus.FAILED], counts[RowStatus.DONE],
                       sum(r[1] for r in recent) / seconds, sum(r[2] for r in recent) / seconds,
                       waiting=counts[RowStatus.WAITING])

    def status(self, paused: bool) -> AppStatus:
        """Error (unseen failures) beats paused, which beats transferring, then idle."""
        if self.unseen_failures or self.job_errors:
            return AppStatus.ERROR
        if paused:
            return AppStatus.PAUSED
        if self._counts[RowStatus.ACTIVE]:
            return AppStatus.TRANSFERRING
        return AppStatus.IDLE

    def acknowledge_failures(self) -> None:
        """The user has seen the failures (the tray goes back to normal)."""
        self.unseen_failures = 0

    def status_line(self, paused: bool, paused_until: float | None = None) -> str:
        """One line for the tray tooltip."""
        summary = self.summary()
        status = self.status(paused)
        if status is AppStatus.ERROR:
            problems = summary.failed + summary.waiting + len(self.job_errors)
            return f"OpenMSI: {problems} problem(s), see Transfers"
        if status is AppStatus.PAUSED:
            if paused_until:
                until = time.strftime("%H:%M", time.localtime(paused_until))
                return f"OpenMSI: paused until {until}"
            return "OpenMSI: paused"
        if status is AppStatus.TRANSFERRING:
            rate = rate_or_zero(summary.up_rate + summary.down_rate)
            return f"OpenMSI: {summary.active} file(s) moving, {rate}"
        return f"OpenMSI: {summary.done} file(s) transferred"
