"""The lab overview's columns and their words, shared by ``openmsi status`` and the Lab view.

One place says what each column is called, what a cell reads ("12 s ago",
"1.5 GiB", "—" for unknown), how a column sorts (by number where it is a
number), what the search box matches, and how the command line prints the
table or its JSON. Views only render these.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.app.lab import ProgramRow, ProgramState, rounded_duration

UNKNOWN = "—"
"""A cell whose value the program does not report."""
MAX_CELL = 40
"""Characters of a text cell in the command line's table (longer ones end with "…")."""
MAX_PROBLEMS = 10
"""Problem sentences printed under the command line's table; more are counted."""


class Column(enum.Enum):
    """The columns of the lab overview, in their order."""

    NAME = "name"
    HOST = "host"
    LAST_SEEN = "last_seen"
    STATE = "state"
    FILES_HOUR = "files_hour"
    BYTES_HOUR = "bytes_hour"
    WAITING = "waiting"
    FAILED = "failed"
    FREE = "free"
    VERSION = "version"


HEADERS: dict[Column, str] = {
    Column.NAME: "Program", Column.HOST: "Host", Column.LAST_SEEN: "Last seen",
    Column.STATE: "State", Column.FILES_HOUR: "Files (1 h)", Column.BYTES_HOUR: "Data (1 h)",
    Column.WAITING: "Waiting", Column.FAILED: "Failed", Column.FREE: "Free disk",
    Column.VERSION: "Version",
}
NUMERIC = frozenset({Column.LAST_SEEN, Column.FILES_HOUR, Column.BYTES_HOUR, Column.WAITING,
                     Column.FAILED, Column.FREE})
"""Columns right-aligned (numbers)."""

DROPPED_FIRST = (Column.VERSION, Column.HOST, Column.FAILED, Column.WAITING,
                 Column.FILES_HOUR, Column.FREE)
"""Columns a narrow terminal leaves out, in this order (never name, last seen, state, data)."""

SEVERITY: dict[ProgramState, int] = {ProgramState.SILENT: 0, ProgramState.NEEDS_ATTENTION: 1,
                                     ProgramState.WORKING: 2, ProgramState.IDLE: 3}
"""The state column sorts the worst first."""


def seen_ago(last_seen: dt.datetime, now: dt.datetime) -> str:
    """``"12 s ago"``, ``"3 min ago"``, ``"2 h 5 min ago"`` (``"just now"`` for a clock ahead)."""
    seconds = (now - last_seen).total_seconds()
    return "just now" if seconds < 1 else f"{rounded_duration(seconds)} ago"


def _count(value: int | None) -> str:
    return UNKNOWN if value is None else str(value)


def cell_text(row: ProgramRow, column: Column, now: dt.datetime) -> str:
    """What a cell reads."""
    match column:
        case Column.NAME:
            return row.program_id
        case Column.HOST:
            return row.host or UNKNOWN
        case Column.LAST_SEEN:
            return seen_ago(row.last_seen, now)
        case Column.STATE:
            return row.state.value
        case Column.FILES_HOUR:
            return _count(row.files_last_hour)
        case Column.BYTES_HOUR:
            return format_bytes(row.bytes_last_hour)
        case Column.WAITING:
            return _count(row.files_waiting)
        case Column.FAILED:
            return _count(row.files_failed)
        case Column.FREE:
            return UNKNOWN if row.free_bytes is None else format_bytes(row.free_bytes)
        case Column.VERSION:
            return row.version
    raise AssertionError(column)  # pragma: no cover


def _number(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, float(value))  # unknown after any number


def sort_key(row: ProgramRow, column: Column, now: dt.datetime) -> tuple[Any, ...]:
    """How a row sorts on a column: numbers as numbers, unknown last, then by name."""
    tie = (row.program_id.casefold(), row.program_id)
    match column:
        case Column.NAME:
            return tie
        case Column.HOST:
            return (row.host == "", row.host.casefold(), *tie)
        case Column.LAST_SEEN:
            return ((now - row.last_seen).total_seconds(), *tie)
        case Column.STATE:
            return (SEVERITY[row.state], *tie)
        case Column.FILES_HOUR:
            return (*_number(row.files_last_hour), *tie)
        case Column.BYTES_HOUR:
            return (*_number(row.bytes_last_hour), *tie)
        case Column.WAITING:
            return (*_number(row.files_waiting), *tie)
        case Column.FAILED:
            return (*_number(row.files_failed), *tie)
        case Column.FREE:
            return (*_number(row.free_bytes), *tie)
        case Column.VERSION:
            return (row.version.casefold(), *tie)
    raise AssertionError(column)  # pragma: no cover


def matches(row: ProgramRow, query: str) -> bool:
    """Whether a row matches the search box.

    Every word of ``query`` must be in its name, host, job, version, state or problem
    (case-insensitive).
    """
    words = query.casefold().split()
    if not words:
        return True
    haystack = "\n".join((row.program_id, row.host, row.job, row.version, row.state.value,
                          row.problem)).casefold()
    return all(word in haystack for word in words)


def summary(rows: Iterable[ProgramRow]) -> str:
    """One line: how many programs, and how many of them are silent or need attention."""
    rows = list(rows)
    silent = sum(row.state is ProgramState.SILENT for row in rows)
    attention = sum(row.state is ProgramState.NEEDS_ATTENTION for row in rows)
    noun = "program" if len(rows) == 1 else "programs"
    return (f"{len(rows)} {noun}: {len(rows) - silent - attention} running, "
            f"{attention} needing attention, {silent} silent")


def read_back_note(since_seconds: float) -> str | None:
    """What to say when fewer than the hour's beats were read (``openmsi status --since``)."""
    if since_seconds >= 3600:
        return None
    return (f"Files (1 h) and Data (1 h) count only the last {rounded_duration(since_seconds)}"
            " read (--since).")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _table_lines(ordered: list[ProgramRow], columns: list[Column], now: dt.datetime
                 ) -> list[str]:
    table = [[HEADERS[column] for column in columns]]
    table += [[_cut(cell_text(row, column, now)) for column in columns] for row in ordered]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return ["  ".join(cell.rjust(width) if column in NUMERIC else cell.ljust(width)
                      for cell, width, column in zip(line, widths, columns, strict=True)
                      ).rstrip() for line in table]


def table_text(rows: Iterable[ProgramRow], now: dt.datetime, width: int | None = None) -> str:
    """The command line's table.

    A header, one line per program (by name), each problem in a sentence, and a summary.
    Given a terminal's ``width``, the columns that do not fit are left out, the least
    needed first (:data:`DROPPED_FIRST`), and a line says which.
    """
    ordered = sorted(rows, key=lambda row: sort_key(row, Column.NAME, now))
    if not ordered:
        return "No program has reported on this topic yet."
    columns = list(Column)
    lines = _table_lines(ordered, columns, now)
    left_out: list[Column] = []
    for column in DROPPED_FIRST:
        if width is None or max(len(line) for line in lines) <= width:
            break
        columns.remove(column)
        left_out.append(column)
        lines = _table_lines(ordered, columns, now)
    problems = [f"{row.program_id} is {row.state.value}: {row.problem}"
                for row in sorted(ordered, key=lambda row: sort_key(row, Column.STATE, now))
                if row.problem]
    if len(problems) > MAX_PROBLEMS:  # a lab whose network went down: not 500 sentences
        more = len(problems) - MAX_PROBLEMS
        problems[MAX_PROBLEMS:] = [f"… and {more} more (their state is in the table; "
                                   "--json has every problem)."]
    note = ([f"Left out to fit the terminal: {', '.join(HEADERS[c] for c in left_out)} "
             "(a wider terminal, or --json, shows them)."] if left_out else [])
    return "\n".join([*lines, *note, "", *problems, *([""] if problems else []),
                      summary(ordered)])


def as_json(rows: Iterable[ProgramRow], now: dt.datetime) -> list[dict[str, Any]]:
    """The command line's ``--json``: one object per program (by name), plain values."""
    ordered = sorted(rows, key=lambda row: sort_key(row, Column.NAME, now))
    return [{
        "program_id": row.program_id, "host": row.host, "state": row.state.value,
        "problem": row.problem, "last_seen": row.last_seen.isoformat(),
        "seconds_since_seen": round((now - row.last_seen).total_seconds(), 3),
        "interval_secs": row.interval, "interval_inferred": row.interval_inferred,
        "files_last_hour": row.files_last_hour, "bytes_last_hour": row.bytes_last_hour,
        "messages_last_hour": row.messages_last_hour, "files_waiting": row.files_waiting,
        "files_failed": row.files_failed, "free_bytes": row.free_bytes,
        "version": row.version, "kind": row.kind.value if row.kind else None, "job": row.job,
        "log_program_id": row.log_program_id, "is_ours": row.is_ours,
    } for row in ordered]
