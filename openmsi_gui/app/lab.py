"""The lab overview: every program that reports heartbeats, and how it is doing (no Qt).

:class:`LabOverview` takes the heartbeats and log messages a
:class:`~openmsi_gui.engine.lab_reader.LabReader` reads (ours and
OpenMSIStream's) and answers, for any moment, one :class:`ProgramRow` per
program: when it was last seen, its state, and what it moved in the last hour.

A program that misses two heartbeat intervals is **silent**. Ours tell their
interval; an OpenMSIStream program's is inferred from the spacing of its
beats (OpenMSIStream's default, 900 s, while only one beat is known).

Built for hundreds of programs beating every few seconds while a GUI asks for
every row each second: each program keeps running sums over its last hour of
beats (expired as time goes by), so :meth:`LabOverview.rows` costs one small
step per program, not a sum over an hour of beats.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import logging
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from openmsi_gui.app.connection import outage_length
from openmsi_gui.app.lab_store import KnownProgram, LabStore
from openmsi_gui.engine.lab_wire import Heartbeat, LogBatch, ReportedState, ReportKind

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 900.0
"""OpenMSIStream's heartbeat interval (seconds): assumed while it cannot be inferred."""
WINDOW = dt.timedelta(hours=1)
"""The span of "files, bytes and messages in the last hour"."""
MAX_LOG_LINES = 500
"""Log lines kept per program."""
MAX_PROGRAMS = 5000
"""Programs kept at most: beats of further ones are dropped (a topic full of junk)."""
BUCKET = 30.0
"""Seconds of beats counted together in the last hour's sums (bounds the memory per program)."""
SPACINGS = 12
"""Beats whose spacing gives an OpenMSIStream program's interval."""
STORE_EVERY = dt.timedelta(minutes=1)
"""How often the store is rewritten while beats come (at once for a new program)."""
OPENMSISTREAM = "OpenMSIStream"
"""The version shown for OpenMSIStream's programs."""


class ProgramState(enum.StrEnum):
    """How a program is doing, in the words shown."""

    WORKING = "working"
    IDLE = "idle"
    NEEDS_ATTENTION = "needs attention"
    SILENT = "silent"


@dataclass(frozen=True)
class ProgramRow:
    """One program of the overview, as of a moment (every text escaped).

    Attributes:
        program_id: the program's id (its heartbeat key without ``_heartbeat``).
        host: its host name ("" when unknown: OpenMSIStream).
        last_seen: its newest beat's Kafka timestamp (aware, UTC).
        state: working, idle, needs attention or silent.
        problem: the sentence for needs attention and silent ("" otherwise).
        interval: seconds between its beats: reported, inferred, or the default.
        interval_inferred: ``interval`` was not reported by the program.
        files_last_hour: files moved in the last hour (None: it does not count files).
        bytes_last_hour: bytes moved in the last hour.
        messages_last_hour: messages produced or read in the last hour.
        files_waiting: files queued there (None: unknown).
        files_failed: files failed there (None: unknown).
        free_bytes: free space where it reads or writes files (None: unknown).
        version: our app's version, or "OpenMSIStream".
        kind: its kind of job (ours only).
        job: its job's name (ours only).
        log_program_id: the id its log messages carry (the program id unless told).
        is_ours: an OpenMSI GUI program.
    """

    program_id: str
    host: str
    last_seen: dt.datetime
    state: ProgramState
    problem: str
    interval: float
    interval_inferred: bool
    files_last_hour: int | None
    bytes_last_hour: int
    messages_last_hour: int
    files_waiting: int | None
    files_failed: int | None
    free_bytes: int | None
    version: str
    kind: ReportKind | None
    job: str
    log_program_id: str
    is_ours: bool


@dataclass(frozen=True)
class LogLine:
    """One line of a program's log (``text`` escaped), with when its message was seen."""

    program_id: str
    time: dt.datetime
    text: str


@dataclass(frozen=True)
class StateChange:
    """A program's state changed.

    ``before`` is None when the program is first seen by this overview, and when it
    comes back from a silence it was in since then (its old beats read back at
    start): neither is a recovery to tell.
    """

    program_id: str
    before: ProgramState | None
    after: ProgramState


_REPORTED = {ReportedState.WORKING: ProgramState.WORKING, ReportedState.IDLE: ProgramState.IDLE,
             ReportedState.NEEDS_ATTENTION: ProgramState.NEEDS_ATTENTION}


def silent_after(interval: float) -> float:
    """Seconds without a beat after which a program beating every ``interval`` s is silent.

    Two intervals, plus a grace for the beat's own travel and for clocks (10 %, 2 s at least).
    """
    return 2 * interval + max(2.0, 0.1 * interval)


def rounded_duration(seconds: float) -> str:
    """A duration for people, as precise as it needs: ``"45 s"``, ``"3 min"``, ``"2 h 5 min"``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return outage_length(int(seconds))
    if seconds < 86400:
        return outage_length(int(seconds // 60) * 60)
    return outage_length(int(seconds // 3600) * 3600)


def silent_sentence(age: float, interval: float, inferred: bool) -> str:
    """What a silent program's row says (``age``: seconds since its last beat)."""
    about = "about " if inferred else ""
    return (f"No heartbeat for {rounded_duration(age)} (expected {about}every "
            f"{outage_length(interval)}): check that the PC and the app are running.")


@dataclass(slots=True)
class _Program:
    """What the overview keeps of one program."""

    program_id: str
    last_seen: dt.datetime
    host: str = ""
    version: str = ""
    kind: ReportKind | None = None
    job: str = ""
    log_program_id: str = ""
    is_ours: bool = False
    base_state: ProgramState = ProgramState.IDLE  # what its newest beat says
    problem: str = ""
    reported_state: ReportedState | None = None
    counts_files: bool = False
    files_waiting: int | None = None
    files_failed: int | None = None
    free_bytes: int | None = None
    reported_interval: float | None = None
    interval: float = DEFAULT_INTERVAL
    interval_inferred: bool = True
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=SPACINGS))
    hour: deque[tuple[float, int, int, int]] = field(default_factory=deque)  # bucket, f, b, m
    files: int = 0
    bytes: int = 0
    messages: int = 0
    shown: ProgramState | None = None  # the state :meth:`LabOverview.changes` told last
    silence_told: bool = False  # it turned silent after being heard from as running

    @classmethod
    def from_known(cls, known: KnownProgram) -> _Program:
        state = _REPORTED.get(known.state, ProgramState.IDLE) if known.state else (
            ProgramState.IDLE)
        return cls(known.program_id, known.last_seen, known.host, known.version, known.kind,
                   known.job, known.log_program_id, known.is_ours, state,
                   known.problem if state is ProgramState.NEEDS_ATTENTION else "",
                   known.state, known.counts_files, known.files_waiting, known.files_failed,
                   known.free_bytes, None if known.interval_inferred else known.interval,
                   known.interval, known.interval_inferred)

    def known(self) -> KnownProgram:
        return KnownProgram(self.program_id, self.last_seen, self.interval,
                            self.interval_inferred, self.host, self.version, self.kind,
                            self.job, self.log_program_id, self.is_ours, self.reported_state,
                            self.problem, self.counts_files, self.files_waiting,
                            self.files_failed, self.free_bytes)

    def take(self, beat: Heartbeat, seen: dt.datetime) -> None:
        """Count ``beat`` and let it describe the program.

        A program's beats share a key, hence a partition, so they come in order:
        one not newer than the previous is the same beat read again (a reader
        restarted) and is left out, so that nothing is counted twice.
        """
        stamp = seen.timestamp()
        if self.recent and stamp <= self.recent[-1]:
            return
        self.recent.append(stamp)
        delta = beat.delta
        files, size = delta.files, delta.bytes
        messages = delta.messages_produced + delta.messages_read
        self.files += files
        self.bytes += size
        self.messages += messages
        bucket = stamp - stamp % BUCKET
        if self.hour and self.hour[-1][0] == bucket:
            _, f, b, m = self.hour[-1]
            self.hour[-1] = (bucket, f + files, b + size, m + messages)
        else:
            self.hour.append((bucket, files, size, messages))
        if seen >= self.last_seen:  # not a beat older than the one remembered in the store
            self.last_seen = seen
            self._describe(beat)
        self._infer()

    def _describe(self, beat: Heartbeat) -> None:
        self.is_ours = beat.is_ours
        self.host = beat.host
        self.version = beat.app_version if beat.is_ours else OPENMSISTREAM
        self.kind = beat.kind
        self.job = beat.job
        self.log_program_id = beat.log_program_id
        self.counts_files = self.counts_files or beat.is_ours
        self.files_waiting = beat.files_waiting
        self.files_failed = beat.files_failed
        self.free_bytes = beat.free_bytes
        self.reported_interval = beat.interval
        self.reported_state = beat.state
        if beat.state is not None:
            self.base_state = _REPORTED[beat.state]
        else:
            moved = (beat.delta.messages_produced + beat.delta.messages_read
                     + beat.delta.messages_processed)
            self.base_state = ProgramState.WORKING if moved else ProgramState.IDLE
        self.problem = ""
        if self.base_state is ProgramState.NEEDS_ATTENTION:
            self.problem = beat.problem or "It reports a problem: see its log messages."

    def _infer(self) -> None:
        if self.reported_interval is not None:
            self.interval, self.interval_inferred = self.reported_interval, False
            return
        times = self.recent
        spacings = [later - earlier for earlier, later in itertools.pairwise(times)]
        if spacings:  # else: the default, or what the store remembered
            self.interval = float(statistics.median(spacings))
        self.interval_inferred = True

    def expire(self, cutoff: float) -> None:
        """Forget beats seen before ``cutoff`` (epoch seconds) from the hour's sums."""
        hour = self.hour
        while hour and hour[0][0] < cutoff:
            _, files, size, messages = hour.popleft()
            self.files -= files
            self.bytes -= size
            self.messages -= messages

    def state_at(self, now: dt.datetime) -> tuple[ProgramState, str]:
        age = (now - self.last_seen).total_seconds()
        if age > silent_after(self.interval):
            return ProgramState.SILENT, silent_sentence(age, self.interval,
                                                        self.interval_inferred)
        return self.base_state, self.problem


class LabOverview:
    """Every program heard from; thread-confined (the caller serialises calls).

    Args:
        store: where the programs heard from are remembered between runs (read
            here, once: build the overview off the GUI thread); None for none.
        default_interval: an OpenMSIStream program's interval while it is unknown.
    """

    def __init__(self, store: LabStore | None = None,
                 default_interval: float = DEFAULT_INTERVAL) -> None:
        self._store = store
        self.default_interval = default_interval
        self._programs: dict[str, _Program] = {}
        self._logs: dict[str, deque[LogLine]] = {}
        self._store_dirty = False
        self._store_urgent = False
        self._stored_at: dt.datetime | None = None
        self.dropped = 0
        """Beats and log messages of programs beyond :data:`MAX_PROGRAMS`, not kept."""
        for known in store.load() if store is not None else ():
            self._programs[known.program_id] = _Program.from_known(known)

    def __len__(self) -> int:
        return len(self._programs)

    def add_beat(self, beat: Heartbeat, seen: dt.datetime) -> None:
        """Take one heartbeat, seen at ``seen`` (its Kafka timestamp, aware)."""
        program = self._programs.get(beat.program_id)
        if program is None:
            if len(self._programs) >= MAX_PROGRAMS:
                self.dropped += 1
                return
            program = self._programs[beat.program_id] = _Program(beat.program_id, seen)
            program.interval = self.default_interval
            self._store_urgent = True
        program.take(beat, seen)
        self._store_dirty = True

    def add_logs(self, batch: LogBatch, seen: dt.datetime) -> None:
        """Take one log message (its lines), seen at ``seen``."""
        lines = self._logs.get(batch.program_id)
        if lines is None:
            if len(self._logs) >= MAX_PROGRAMS:
                self.dropped += 1
                return
            lines = self._logs[batch.program_id] = deque(maxlen=MAX_LOG_LINES)
        lines.extend(LogLine(batch.program_id, seen, text) for text in batch.messages)

    def rows(self, now: dt.datetime) -> list[ProgramRow]:
        """Every program as of ``now`` (aware), in no particular order."""
        cutoff = (now - WINDOW).timestamp()
        return [self._row(program, now, cutoff) for program in self._programs.values()]

    def row(self, program_id: str, now: dt.datetime) -> ProgramRow | None:
        """One program as of ``now``, or None when it is not known."""
        program = self._programs.get(program_id)
        return None if program is None else self._row(program, now, (now - WINDOW).timestamp())

    def logs_for(self, program_id: str, limit: int = MAX_LOG_LINES) -> list[LogLine]:
        """The newest log lines of a program (by its program id or log id), newest last."""
        program = self._programs.get(program_id)
        log_id = program.log_program_id if program is not None else ""
        lines = self._logs.get(log_id or program_id, ())
        if limit <= 0:
            return []
        return list(lines)[-limit:]

    def changes(self, now: dt.datetime, heard_from: dt.datetime | None = None
                ) -> list[StateChange]:
        """Programs whose state changed since the previous call (or appeared).

        A program turning silent is told once, and its recovery once, however
        often this is asked in between. ``heard_from``: when the reader could read
        again after an outage of its own; a program is not told silent before it
        missed two intervals since then (its beats could not come meanwhile).
        """
        changed: list[StateChange] = []
        for program in self._programs.values():
            state, _ = program.state_at(now)
            if state is program.shown:
                continue
            if (state is ProgramState.SILENT and heard_from is not None
                    and program.shown is not None
                    and (now - max(program.last_seen, heard_from)).total_seconds()
                    <= silent_after(program.interval)):
                continue  # not yet: ask again later
            before = program.shown
            if state is ProgramState.SILENT:
                program.silence_told = before is not None
            elif before is ProgramState.SILENT and not program.silence_told:
                before = None  # silent since first seen (its last beats read back): news
            changed.append(StateChange(program.program_id, before, state))
            program.shown = state
        return changed

    def forget(self, program_id: str) -> None:
        """Drop a program, its log lines and its memory in the store."""
        program = self._programs.pop(program_id, None)
        self._logs.pop(program_id, None)
        if program is not None and program.log_program_id:
            self._logs.pop(program.log_program_id, None)
        if program is not None:
            self._store_dirty = self._store_urgent = True

    def any_silent(self, now: dt.datetime) -> bool:
        """Whether some program is silent at ``now``."""
        return any(p.state_at(now)[0] is ProgramState.SILENT for p in self._programs.values())

    def store_write(self, now: dt.datetime, force: bool = False) -> Callable[[], None] | None:
        """The write that brings the store up to date, if one is due; None otherwise.

        Due at once after a new program or :meth:`forget`, else at most every
        :data:`STORE_EVERY` while beats come. The write is blocking file I/O on
        a snapshot taken here: run it off the GUI thread.
        """
        store = self._store
        if store is None or not self._store_dirty:
            return None
        due = (force or self._store_urgent or self._stored_at is None
               or now - self._stored_at >= STORE_EVERY)
        if not due:
            return None
        snapshot = [program.known() for program in self._programs.values()]
        self._store_dirty = self._store_urgent = False
        self._stored_at = now

        def write() -> None:
            store.save(snapshot)

        return write

    def _row(self, program: _Program, now: dt.datetime, cutoff: float) -> ProgramRow:
        program.expire(cutoff)
        state, problem = program.state_at(now)
        return ProgramRow(
            program_id=program.program_id, host=program.host, last_seen=program.last_seen,
            state=state, problem=problem, interval=program.interval,
            interval_inferred=program.interval_inferred,
            files_last_hour=program.files if program.counts_files else None,
            bytes_last_hour=program.bytes, messages_last_hour=program.messages,
            files_waiting=program.files_waiting, files_failed=program.files_failed,
            free_bytes=program.free_bytes, version=program.version or OPENMSISTREAM,
            kind=program.kind, job=program.job,
            log_program_id=program.log_program_id or program.program_id,
            is_ours=program.is_ours)
