"""What is moving right now, built from engine events (no Qt).

The :class:`TransferBook` keeps one row per file and direction with its
progress, rate, ETA and error, a per-second throughput history for the plot,
and the overall status the tray shows (derived from the problems that exist
now, see :mod:`openmsi_gui.app.transfer_status`). The Qt models render it.
"""

from __future__ import annotations

import collections
import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from openmsi_gui.app.connection import LinkProblems, link_state_word
from openmsi_gui.app.delivery_state import DestinationWord, word_of
from openmsi_gui.app.processing_rows import Processing
from openmsi_gui.app.transfer_status import (
    AppStatus,
    Problems,
    Summary,
    overall_status,
    status_text,
)
from openmsi_gui.engine.events import (
    ConnectionState,
    DeliveryStatus,
    Direction,
    Event,
    FileCompleted,
    FileDelivery,
    FileDiscovered,
    FileFailed,
    FileProcessed,
    FileProgress,
    FileSkipped,
    FileStalled,
    FileUnconfirmed,
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
    STALLED = "stalled"  # no progress for the stall time while the broker answers
    UNCONFIRMED = "not confirmed"  # sent, but expected destinations did not confirm it in time


__all__ = ["AppStatus", "Problems", "RowKey", "RowStatus", "Summary", "TransferBook",
           "TransferRow"]

RowKey = tuple[str, Direction, str]
_FINISHED = frozenset({RowStatus.DONE, RowStatus.FAILED, RowStatus.SKIPPED,
                       RowStatus.UNCONFIRMED})
UNFINISHED = frozenset({RowStatus.QUEUED, RowStatus.ACTIVE, RowStatus.WAITING,
                        RowStatus.STALLED})
"""Rows whose file has not arrived yet (what removing their folder or destination drops)."""
PROBLEM_STATUSES = frozenset({RowStatus.FAILED, RowStatus.WAITING, RowStatus.STALLED,
                              RowStatus.UNCONFIRMED})
"""Rows that make the app need attention, and that the Problems filter shows."""
_MOVING = frozenset({RowStatus.QUEUED, RowStatus.ACTIVE})
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
    held: bool = False  # its folder or destination is paused
    place: str = ""  # where from (an upload) or to (a download), see transfer_rows.job_places
    place_detail: str = ""  # the same in full (paths, topic)
    # What destinations said about a sent file, and who did not confirm it in time.
    deliveries: dict[str, DestinationWord] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    processing: Processing | None = None  # a received file's processing, where one runs

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
        if (self.status is not RowStatus.ACTIVE or self.held or self.rate <= 0
                or self.fraction <= 0):
            return None
        total = self.total_bytes or self.done_bytes / self.fraction
        return max(0.0, (total - self.done_bytes) / self.rate)

    @property
    def expected_bytes(self) -> tuple[int, bool]:
        """The file's size and whether it is an estimate.

        A download learns its size only with its last chunk; before that it is
        estimated from the chunks stored (all but the last have the same size).
        """
        if self.total_bytes or self.status is RowStatus.DONE:
            return self.total_bytes, False
        if self.total_chunks and self.done_chunks:
            return round(self.done_bytes / self.done_chunks * self.total_chunks), True
        return 0, False


class Throughput:
    """Bytes moved each second in each direction, over the last :data:`HISTORY_SECONDS`.

    Attributes:
        history: ``(second, up_bytes, down_bytes)`` per finished second, oldest first.
    """

    def __init__(self) -> None:
        self._second = int(time.time())
        self._bucket = [0, 0]
        self.history: collections.deque[tuple[int, int, int]] = collections.deque(
            maxlen=HISTORY_SECONDS)

    def count(self, direction: Direction, moved: int) -> None:
        """Add ``moved`` bytes to the current second of ``direction``."""
        self.tick()
        self._bucket[0 if direction is Direction.UPLOAD else 1] += moved

    def tick(self) -> None:
        """Close finished one-second buckets (call about once a second)."""
        now = int(time.time())
        while self._second < now:
            self.history.append((self._second, self._bucket[0], self._bucket[1]))
            self._bucket = [0, 0]
            self._second += 1
            if now - self._second > HISTORY_SECONDS:
                self._second = now - HISTORY_SECONDS

    def recent(self, seconds: int = 3) -> tuple[float, float]:
        """Bytes per second up and down over the last ``seconds`` finished seconds."""
        last = list(self.history)[-seconds:]
        count = max(1, len(last))
        return sum(r[1] for r in last) / count, sum(r[2] for r in last) / count


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
        # Counts per status, direction and whether the row's job is paused.
        self._split: collections.Counter[tuple[RowStatus, Direction, bool]] = \
            collections.Counter()
        self._finished: collections.OrderedDict[RowKey, None] = collections.OrderedDict()
        self._processing_failed: set[RowKey] = set()  # received, but their processing failed
        self.job_errors: dict[str, str] = {}  # job name -> why it failed, until it runs again
        self.job_waits: dict[str, str] = {}  # job name -> what it waits for (disk full...)
        self.paused_jobs: set[str] = set()
        self.places: dict[str, tuple[str, str]] = {}  # job -> (place, place in full)
        self._gone: set[str] = set()  # jobs removed from the settings: their events are late
        self._touched: list[TransferRow] = []  # rows a job's state changed, see take_touched
        self.links = LinkProblems()  # jobs whose broker does not answer, or topic is missing
        self._rates = Throughput()
        self.throughput = self._rates.history  # (second, up bytes, down bytes), for the plot

    def apply(self, event: Event) -> TransferRow | None:
        """Fold ``event`` in; return the row it changed, if any.

        Rates use the events' own timestamps, so events that reach the GUI in
        one batch still give true rates.
        """
        if isinstance(event, (JobState, ConnectionState, FileDelivery, FileUnconfirmed,
                              FileProcessed)):
            return self._apply_other(event)
        if not isinstance(event, (FileDiscovered, FileProgress, FileCompleted, FileFailed,
                                  FileSkipped, FileWaiting, FileStalled)) \
                or event.job in self._gone:
            return None
        if isinstance(event, FileStalled):
            known = self.rows.get((event.job, event.direction, event.relpath))
            if known is None or known.status not in _MOVING:
                return None  # it finished, failed or waits meanwhile: that says more
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
        elif isinstance(event, FileSkipped):
            status = RowStatus.SKIPPED
            row.error = event.reason
        elif isinstance(event, FileStalled):
            status = RowStatus.STALLED
            row.error = event.reason
            row.rate = 0.0
        else:
            status = RowStatus.WAITING
            row.error = event.reason
            row.rate = 0.0
        if status is RowStatus.ACTIVE and (away := self.links.problems.get(event.job)):
            # Started while its broker is away: it waits, and moves on once it answers.
            status, row.error, row.rate = RowStatus.WAITING, away, 0.0
        row.updated = event.at
        self._set_status(row, status)
        return row

    def _apply_other(self, event: JobState | ConnectionState | FileDelivery | FileUnconfirmed
                     | FileProcessed) -> TransferRow | None:
        """Events about a job, a file already sent, or a received file's processing."""
        if isinstance(event, FileProcessed):
            return self.set_processing(event.job, event.relpath, Processing.of(event), event.at,
                                       event.sha512_hex)
        if isinstance(event, JobState):
            self._apply_job_state(event)
        elif isinstance(event, ConnectionState):
            self._apply_link(event)
        elif event.job not in self._gone:
            return self._apply_delivery(event)
        return None

    def _apply_delivery(self, event: FileDelivery | FileUnconfirmed) -> TransferRow | None:
        """A destination's word on a sent file, or expected ones that did not confirm it."""
        key: RowKey = (event.job, Direction.UPLOAD, event.relpath)
        row = self.rows.get(key)
        if isinstance(event, FileDelivery):
            if row is None or row.status not in (RowStatus.DONE, RowStatus.UNCONFIRMED) or (
                    row.sha512_hex and row.sha512_hex != event.sha512_hex):
                return None  # not listed (the history shows it), or another generation
            row.deliveries[event.destination] = word_of(event)
            if event.status is DeliveryStatus.DELIVERED:
                row.missing = tuple(m for m in row.missing if m != event.destination)
            if row.status is RowStatus.UNCONFIRMED and not row.missing:
                row.error = ""
                self._set_status(row, RowStatus.DONE)
            return row
        if row is not None and row.status not in (RowStatus.DONE, RowStatus.UNCONFIRMED,
                                                  RowStatus.SKIPPED):
            return None  # being sent again (or failed since): that says more
        if row is None:  # sent before a restart
            row = TransferRow(event.job, Direction.UPLOAD, event.relpath, started=event.sent_at,
                              held=event.job in self.paused_jobs)
            row.place, row.place_detail = self.places.get(event.job, (event.job, event.job))
            row.done_bytes = row.total_bytes = event.size
            self.rows[key] = row
            self._counted(row, 1)
            self._trim()
        row.sha512_hex, row.missing, row.updated = event.sha512_hex, event.missing, event.at
        row.error = event.reason
        self._set_status(row, RowStatus.UNCONFIRMED)
        return row

    def set_processing(self, job: str, relpath: str, processing: Processing,
                       at: float | None = None, sha512_hex: str = "") -> TransferRow | None:
        """A received file's processing changed; return its row (listed again if it was not).

        A file received before a restart and processed after it gets a row of its own.
        """
        if job in self._gone:
            return None
        key: RowKey = (job, Direction.DOWNLOAD, relpath)
        row = self.rows.get(key)
        if row is not None and (row.status is not RowStatus.DONE or (
                sha512_hex and row.sha512_hex and row.sha512_hex != sha512_hex)):
            return None  # received again meanwhile: its new generation says more
        if row is None:
            row = TransferRow(job, Direction.DOWNLOAD, relpath, status=RowStatus.DONE,
                              held=job in self.paused_jobs, sha512_hex=sha512_hex)
            row.place, row.place_detail = self.places.get(job, (job, job))
            self.rows[key] = row
            self._counted(row, 1)
            self._finished[key] = None
            self._trim()
        row.processing = processing
        row.updated = time.time() if at is None else at
        if processing.failed:
            self._processing_failed.add(key)
        else:
            self._processing_failed.discard(key)
        return row

    def _row_for(self, event: FileDiscovered | FileProgress | FileCompleted | FileFailed
                 | FileSkipped | FileWaiting | FileStalled) -> TransferRow:
        """The row ``event`` is about: a new one for a new file or a new generation."""
        key: RowKey = (event.job, event.direction, event.relpath)
        row = self.rows.get(key)
        if row is None or (isinstance(event, FileDiscovered) and row.status not in
                           (RowStatus.ACTIVE, RowStatus.STALLED)):
            if row is not None:
                self._set_status(row, None)
            row = TransferRow(event.job, event.direction, event.relpath, started=event.at,
                              updated=event.at, held=event.job in self.paused_jobs)
            row.place, row.place_detail = self.places.get(event.job, (event.job, event.job))
            self.rows[key] = row
            self._counted(row, 1)
            self._trim()
        self.rows.move_to_end(key)
        return row

    def _progress(self, row: TransferRow, event: FileProgress) -> RowStatus:
        moved = max(0, event.done_bytes - row.done_bytes)
        if row.status not in (RowStatus.ACTIVE, RowStatus.STALLED) and event.done_chunks > 1:
            # Resumed: earlier chunks moved in a previous run; count about one chunk.
            moved = min(moved, event.done_bytes // event.done_chunks)
        else:
            elapsed = event.at - row.updated
            if moved and elapsed > 0:
                instant = moved / elapsed
                row.rate = instant if not row.rate else 0.7 * row.rate + 0.3 * instant
        self._rates.count(event.direction, moved)
        row.done_bytes, row.done_chunks = event.done_bytes, event.done_chunks
        row.total_chunks = event.total_chunks
        row.total_bytes = event.total_bytes or row.total_bytes
        row.error = ""
        return RowStatus.ACTIVE

    def _completed(self, row: TransferRow, event: FileCompleted) -> RowStatus:
        self._rates.count(event.direction, max(0, event.size - row.done_bytes))
        row.done_bytes = row.total_bytes = event.size
        row.done_chunks = row.total_chunks
        row.sha512_hex = event.sha512_hex
        row.rate = event.size / event.seconds if event.seconds > 0 else row.rate
        row.error = ""
        return RowStatus.DONE

    def _apply_job_state(self, event: JobState) -> None:
        if event.job in self._gone:
            return
        self._hold(event.job, event.state is JobStatus.PAUSED)
        if event.state is JobStatus.FAILED:
            self.job_errors[event.job] = event.detail or "the job stopped"
            self.job_waits.pop(event.job, None)
        elif event.state is JobStatus.WAITING:
            self.job_waits[event.job] = event.detail
        elif event.state in _JOB_GOES_ON:
            self.forget_job_problem(event.job)
        if event.state in _JOB_HALTED:
            for row in self.rows.values():
                if row.job == event.job and row.status in (RowStatus.ACTIVE, RowStatus.STALLED):
                    row.error = "interrupted; it resumes when the job runs again"
                    self._set_status(row, RowStatus.QUEUED)
                    self._touched.append(row)

    def take_touched(self) -> list[TransferRow]:
        """The rows changed by job states since the last call (paused, interrupted, no broker).

        :meth:`apply` returns the one row a file event changed; a job's state may
        change many, which a view must redraw too.
        """
        touched, self._touched = self._touched, []
        return touched

    def _hold(self, job: str, held: bool) -> None:
        """Mark the rows of ``job`` as held by a pause (or no longer)."""
        if held == (job in self.paused_jobs):
            return
        if held:
            self.paused_jobs.add(job)
        else:
            self.paused_jobs.discard(job)
        for row in self.rows.values():
            if row.job == job:
                self._counted(row, -1)
                row.held = held
                self._counted(row, 1)
                self._touched.append(row)

    def _apply_link(self, event: ConnectionState) -> None:
        """A job's broker stopped (or started again) answering, or its topic is missing.

        Meanwhile its moving files show as waiting for it (see :meth:`take_touched`);
        they move on once it answers again.
        """
        if event.job in self._gone:  # a removed job's last words raise no alarm
            return
        before = self.links.problems.get(event.job)
        self.links.apply(event)
        after = self.links.problems.get(event.job)
        for row in self.rows.values():
            if row.job != event.job:
                continue
            if after and row.status in (RowStatus.ACTIVE, RowStatus.STALLED):
                row.error, row.rate = after, 0.0
                self._set_status(row, RowStatus.WAITING)
                self._touched.append(row)
            elif before and not after and row.status is RowStatus.WAITING and (
                    row.error == before):
                row.error = ""
                self._set_status(row, RowStatus.ACTIVE)
                self._touched.append(row)

    def job_link_problem(self, job: str) -> str:
        """Why ``job``'s broker link does not work now ("" if it does)."""
        return self.links.problems.get(job, "")

    def job_link_state(self, job: str) -> str:
        """``job``'s state in a table cell while its broker link does not work ("" if it does)."""
        status = self.links.states.get(job)
        return link_state_word(status) if status is not None else ""

    def forget_job_problem(self, job: str) -> None:
        """Drop what :attr:`job_errors` and :attr:`job_waits` say about ``job``."""
        self.job_errors.pop(job, None)
        self.job_waits.pop(job, None)

    def forget_job(self, job: str) -> list[RowKey]:
        """``job`` was removed: drop its rows and problems, ignore its late events.

        Returns the keys of the rows dropped.
        """
        self._gone.add(job)
        self.forget_job_problem(job)
        self.links.forget(job)
        self.paused_jobs.discard(job)
        return self.drop([key for key in self.rows if key[0] == job])

    def unfinished(self, job: str) -> int:
        """How many files of ``job`` have not arrived yet (queued, moving, waiting)."""
        return sum(1 for row in self.rows.values()
                   if row.job == job and row.status in UNFINISHED)

    def set_places(self, places: dict[str, tuple[str, str]]) -> list[TransferRow]:
        """Name where each job's files come from or go to; returns the rows renamed.

        ``places`` maps job names to a short and a full description. Jobs named
        there are no longer ignored (see :meth:`forget_job`).
        """
        self.places = dict(places)
        self._gone.difference_update(places)
        changed = []
        for row in self.rows.values():
            place = self.places.get(row.job, (row.job, row.job))
            if (row.place, row.place_detail) != place:
                row.place, row.place_detail = place
                changed.append(row)
        return changed

    def drop(self, keys: Iterable[RowKey]) -> list[RowKey]:
        """Remove the rows ``keys`` from the list (dismissed); returns those removed."""
        dropped = []
        for key in keys:
            row = self.rows.pop(key, None)
            if row is not None:
                self._set_status(row, None)
                dropped.append(key)
        return dropped

    def _counted(self, row: TransferRow, sign: int) -> None:
        self._counts[row.status] += sign
        self._split[row.status, row.direction, row.held] += sign

    def _set_status(self, row: TransferRow, status: RowStatus | None) -> None:
        """Move ``row`` to ``status`` (None: the row is being dropped), keeping counts."""
        self._counted(row, -1)
        self._finished.pop(row.key, None)
        self._processing_failed.discard(row.key)  # dropped, or a new generation's status
        if status is None:
            return
        row.status = status
        self._counted(row, 1)
        if status in _FINISHED:
            self._finished[row.key] = None

    def _trim(self) -> None:
        while len(self.rows) > self.max_rows and self._finished:
            oldest, _ = self._finished.popitem(last=False)
            self._processing_failed.discard(oldest)
            row = self.rows.pop(oldest)
            self._counted(row, -1)

    def tick(self) -> None:
        """Close finished one-second throughput buckets (call about once a second)."""
        self._rates.tick()

    def summary(self) -> Summary:
        """Counts over the current rows and the last few seconds' rates."""
        counts, split = self._counts, self._split
        up_rate, down_rate = self._rates.recent()

        def unfinished(direction: Direction) -> int:
            return (split[RowStatus.ACTIVE, direction, False]
                    + split[RowStatus.QUEUED, direction, False])

        held = sum(split[status, direction, True] for status in (RowStatus.ACTIVE,
                                                                  RowStatus.QUEUED)
                   for direction in Direction)
        moving = sum(split[RowStatus.ACTIVE, direction, False] for direction in Direction)
        return Summary(counts[RowStatus.ACTIVE] + counts[RowStatus.QUEUED],
                       counts[RowStatus.FAILED], counts[RowStatus.DONE],
                       up_rate, down_rate,
                       waiting=counts[RowStatus.WAITING],
                       sending=unfinished(Direction.UPLOAD),
                       receiving=unfinished(Direction.DOWNLOAD),
                       sent=split[RowStatus.DONE, Direction.UPLOAD, False]
                       + split[RowStatus.DONE, Direction.UPLOAD, True],
                       received=split[RowStatus.DONE, Direction.DOWNLOAD, False]
                       + split[RowStatus.DONE, Direction.DOWNLOAD, True],
                       held=held, moving=moving, stalled=counts[RowStatus.STALLED],
                       unconfirmed=counts[RowStatus.UNCONFIRMED])

    def problems(self) -> Problems:
        """What is wrong now: listed failed and waiting files, jobs that fail or wait.

        A job that waits is named only while no waiting file says why.
        """
        counts = self._counts
        waiting_jobs = () if counts[RowStatus.WAITING] else tuple(self.job_waits)
        return Problems(counts[RowStatus.FAILED], counts[RowStatus.WAITING],
                        tuple(self.job_errors), waiting_jobs,
                        stalled_files=counts[RowStatus.STALLED],
                        unconfirmed_files=counts[RowStatus.UNCONFIRMED],
                        failed_processing=len(self._processing_failed),
                        links=tuple(dict.fromkeys(self.links.problems.values())))

    def on_their_way(self) -> tuple[int, int]:
        """Files being sent and received now, or waiting to go on: ``(sending, receiving)``."""
        moving = (RowStatus.ACTIVE, RowStatus.QUEUED, RowStatus.WAITING, RowStatus.STALLED)
        counts = collections.Counter(row.direction for row in self.rows.values()
                                     if row.status in moving)
        return counts[Direction.UPLOAD], counts[Direction.DOWNLOAD]

    def status(self, paused: bool) -> AppStatus:
        """Problems beat paused, which beats transferring, then idle."""
        return overall_status(self.problems(), self.summary(), paused)

    def status_line(self, paused: bool, paused_until: float | None = None) -> str:
        """One line for the tray tooltip: ``"OpenMSI: 21 files sent, 21 received"``."""
        summary, problems = self.summary(), self.problems()
        status = overall_status(problems, summary, paused)
        return f"OpenMSI: {status_text(status, summary, problems, paused_until, paused)}"
