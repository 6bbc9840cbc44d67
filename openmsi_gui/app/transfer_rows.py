"""Rows of the live transfers table as people read them, without Qt.

Cell texts, tooltips, sort keys, the filter text the table's proxy searches,
which rows can be retried, and the summary line. :mod:`openmsi_gui.ui.views.transfer_model`
renders them.
"""

from __future__ import annotations

import enum
import math
from typing import Any

from openmsi_gui.app.delivery_state import UNCONFIRMED_WORD, delivery_cell, delivery_lines
from openmsi_gui.app.formatting import (
    direction_text,
    first_line,
    format_chunks,
    format_eta,
    format_percent,
    format_rate,
    format_transferred,
    rate_or_zero,
)
from openmsi_gui.app.job_names import names
from openmsi_gui.app.processing import reprocess_job_name
from openmsi_gui.app.processing_rows import (
    processing_lines,
    processing_tooltip,
    processing_word,
)
from openmsi_gui.app.settings import DestinationKind, Settings
from openmsi_gui.app.transfers import (
    PROBLEM_STATUSES,
    UNFINISHED,
    RowStatus,
    Summary,
    TransferRow,
)
from openmsi_gui.engine.events import Direction, JobId, JobKind


class Column(enum.IntEnum):
    """Columns of the transfers table, in order."""

    DIRECTION = 0
    FILE = 1
    PLACE = 2
    STATUS = 3
    DELIVERY = 4
    PROGRESS = 5
    SIZE = 6
    CHUNKS = 7
    RATE = 8
    ETA = 9
    ERROR = 10


HEADERS = {
    Column.DIRECTION: "Direction",
    Column.FILE: "File",
    Column.PLACE: "From / to",
    Column.STATUS: "Status",
    Column.DELIVERY: "Delivery",
    Column.PROGRESS: "Progress",
    Column.SIZE: "Size",
    Column.CHUNKS: "Chunks",
    Column.RATE: "Rate",
    Column.ETA: "Time left",
    Column.ERROR: "Error",
}
NUMERIC_COLUMNS = frozenset({Column.SIZE, Column.CHUNKS, Column.RATE, Column.ETA})
COLUMNS = tuple(Column)


class FilterMode(enum.Enum):
    """Which rows the table shows."""

    ALL = "All"
    ACTIVE = "Active"
    PROBLEMS = "Problems"


def job_places(settings: Settings) -> dict[str, tuple[str, str]]:
    """Where each job's files come from (a folder) or go to (a destination).

    Job name -> ``(short, full)``: ``("outbox", "/data/outbox → topic lab-data")`` for a
    watched folder, ``("inbox", "topic lab-data → /srv/inbox")`` or
    ``("s3://bucket/raw", "topic lab-data → s3://bucket/raw")`` for a destination. The
    short name is the one log lines use (:func:`openmsi_gui.app.job_names.names`).
    """
    short = names(settings)
    places: dict[str, tuple[str, str]] = {}
    for folder in settings.folders:
        job = str(JobId(JobKind.FOLDER, folder.id))
        places[job] = (short[job], f"{folder.path} → topic {folder.topic}")
    for dest in settings.destinations:
        job = str(JobId(JobKind.DESTINATION, dest.id))
        where = (dest.path if dest.kind is DestinationKind.FOLDER else short[job])
        places[job] = (short[job], f"topic {dest.topic} → {where}")
        # Its Reprocess runs: files rebuilt privately, processed again, removed.
        places[reprocess_job_name(dest)] = (f"{short[job]} (reprocess)",
                                            f"topic {dest.topic} → reprocessing for {where}")
    return places


def status_text(row: TransferRow) -> str:
    """The row's status in words, aware of the direction and of a pause."""
    upload = row.direction is Direction.UPLOAD
    if row.held and row.status in (RowStatus.ACTIVE, RowStatus.QUEUED):
        return "Paused"
    if row.status is RowStatus.DONE and row.processing is not None:
        return processing_word(row.processing)
    return {
        RowStatus.QUEUED: "Queued",
        RowStatus.ACTIVE: "Sending" if upload else "Receiving",
        RowStatus.DONE: "Sent" if upload else "Received",
        RowStatus.FAILED: "Failed",
        RowStatus.SKIPPED: "Skipped",
        RowStatus.WAITING: "Waiting",
        RowStatus.STALLED: "Stalled",
        RowStatus.UNCONFIRMED: UNCONFIRMED_WORD,
    }[row.status]


def folder_id_of(job: str) -> str | None:
    """The watched folder id in a job name (see :class:`JobId`), else ``None``."""
    ident = JobId.parse(job)
    return ident.id if ident is not None and ident.kind is JobKind.FOLDER else None


def can_retry(row: TransferRow) -> bool:
    """Whether the app can retry ``row`` now.

    That is a failed upload from a watched folder (sent again), or a download
    of a destination that waits: disk full, S3 refused, keys late (tried now).
    """
    if row.status is RowStatus.FAILED and row.direction is Direction.UPLOAD:
        return folder_id_of(row.job) is not None
    ident = JobId.parse(row.job)
    return (row.status in (RowStatus.WAITING, RowStatus.STALLED)
            and row.direction is Direction.DOWNLOAD
            and ident is not None and ident.kind is JobKind.DESTINATION)


def can_retry_processing(row: TransferRow) -> bool:
    """Whether ``row`` is a received file whose processing failed (Retry processing)."""
    ident = JobId.parse(row.job)
    return (row.processing is not None and row.processing.failed
            and row.status is RowStatus.DONE and row.direction is Direction.DOWNLOAD
            and ident is not None and ident.kind is JobKind.DESTINATION)


def processing_problem(row: TransferRow) -> bool:
    """Whether the row's file arrived but its processing failed (a problem to show)."""
    return row.processing is not None and row.processing.failed


def can_send_again(row: TransferRow) -> bool:
    """Whether ``row`` can be sent again from here, whatever its state.

    Any upload from a watched folder can: its chunks are produced again, all of
    them, even if the registry says the same content was sent.
    """
    return row.direction is Direction.UPLOAD and folder_id_of(row.job) is not None


RESEND_HINT = ("A failed download cannot be retried from here: the file has to be sent "
               "again by the sending computer.")


def row_matches(row: TransferRow, mode: FilterMode, search: str = "") -> bool:
    """Whether ``row`` passes the filter ``mode`` and contains ``search`` (any case)."""
    if mode is FilterMode.ACTIVE and not _active(row):
        return False
    if mode is FilterMode.PROBLEMS and not _problem(row):
        return False
    needle = search.strip().casefold()
    if not needle:
        return True
    return any(needle in text.casefold() for text in _haystack(row))


def _active(row: TransferRow) -> bool:
    return row.status in UNFINISHED or (
        row.processing is not None and row.processing.unfinished)


def _problem(row: TransferRow) -> bool:
    return row.status in PROBLEM_STATUSES or processing_problem(row)


def _haystack(row: TransferRow) -> tuple[str, ...]:
    return (row.relpath, row.job, error_text(row), status_text(row), direction_text(row.direction),
            row.place_detail, delivery_cell(row.deliveries, row.missing))


FIELD_SEP = "\x1f"
MODE_FLAGS = {FilterMode.ALL: "", FilterMode.ACTIVE: "A", FilterMode.PROBLEMS: "P"}


def _flags(row: TransferRow) -> str:
    """``A``: not arrived yet (:data:`UNFINISHED`); ``P``: a problem (:data:`PROBLEM_STATUSES`)."""
    flags = "A" if _active(row) else ""
    if _problem(row):
        flags += "P"
    return flags or "-"


def filter_text(row: TransferRow) -> str:
    """What the proxy's regular expression sees of ``row`` (see :func:`filter_pattern`).

    The filter flags (:data:`MODE_FLAGS`; ``-`` for none), then the searchable texts of
    :func:`row_matches`, case-folded and separated by the ASCII unit separator.
    """
    return _flags(row) + FIELD_SEP + FIELD_SEP.join(
        text.replace(FIELD_SEP, " ").casefold() for text in _haystack(row))


_STATUS_ORDER = {RowStatus.ACTIVE: 0, RowStatus.STALLED: 1, RowStatus.WAITING: 2,
                 RowStatus.QUEUED: 3, RowStatus.FAILED: 4, RowStatus.UNCONFIRMED: 5,
                 RowStatus.DONE: 6, RowStatus.SKIPPED: 7}


def cell_text(row: TransferRow, column: Column) -> str:
    """What one cell shows."""
    if column is Column.DIRECTION:
        return direction_text(row.direction)
    if column is Column.FILE:
        return row.relpath
    if column is Column.PLACE:
        return row.place
    if column is Column.STATUS:
        return status_text(row)
    if column is Column.DELIVERY:
        return delivery_cell(row.deliveries, row.missing)
    if column is Column.PROGRESS:
        return format_percent(row.fraction) if shows_progress(row) else ""
    if column is Column.SIZE:
        total, estimated = row.expected_bytes
        return format_transferred(row.done_bytes, total, estimated)
    if column is Column.CHUNKS:
        return format_chunks(row.done_chunks, row.total_chunks)
    if column is Column.RATE:
        moving = row.status is RowStatus.DONE or (row.status is RowStatus.ACTIVE
                                                  and not row.held)
        return format_rate(row.rate) if moving else ""
    if column is Column.ETA:
        return format_eta(row.eta)
    return first_line(error_text(row))


def shows_progress(row: TransferRow) -> bool:
    """Whether the row has a progress to show (not a skip, nor a row about no file yet)."""
    if row.status is RowStatus.SKIPPED:
        return False
    return not (row.status is RowStatus.WAITING and not row.total_bytes and not row.done_bytes)


def sort_value(row: TransferRow, column: Column) -> Any:
    """What one cell sorts by: numbers for numeric columns, folded text otherwise."""
    if column is Column.DIRECTION:
        return row.direction.value
    if column is Column.FILE:
        return row.relpath.casefold()
    if column is Column.PLACE:
        return row.place.casefold()
    if column is Column.STATUS:
        return _STATUS_ORDER[row.status]
    if column is Column.DELIVERY:
        return delivery_cell(row.deliveries, row.missing).casefold()
    if column is Column.PROGRESS:
        return row.fraction
    if column is Column.SIZE:
        return row.expected_bytes[0] or row.done_bytes
    if column is Column.CHUNKS:
        return row.total_chunks
    if column is Column.RATE:
        return row.rate
    if column is Column.ETA:
        eta = row.eta
        return math.inf if eta is None else eta
    return error_text(row).casefold()


def cell_tooltip(row: TransferRow, column: Column) -> str:
    """A longer explanation of one cell."""
    if column is Column.FILE:
        return f"{row.relpath}\nJob: {row.job}"
    if column is Column.PLACE:
        return row.place_detail
    if column is Column.ERROR:
        return error_text(row)
    if column is Column.STATUS:
        return _status_tooltip(row)
    if column is Column.DELIVERY:
        return _delivery_tooltip(row)
    if column is Column.SIZE and row.total_bytes:
        return f"{row.done_bytes:,} of {row.total_bytes:,} bytes"
    if column is Column.SIZE and row.expected_bytes[1]:
        return (f"{row.done_bytes:,} bytes received of about {row.expected_bytes[0]:,} "
                "(the exact size is known once the last chunk is in)")
    if column is Column.PROGRESS and shows_progress(row):
        return f"{format_percent(row.fraction)} done"
    return ""


def error_text(row: TransferRow) -> str:
    """The row's error: the transfer's, else why its processing failed ("" if none)."""
    if row.error or row.processing is None or not row.processing.failed:
        return row.error
    return row.processing.reason


def _status_tooltip(row: TransferRow) -> str:
    text = status_text(row)
    if row.status is RowStatus.DONE and row.processing is not None:
        return processing_tooltip(row.processing)
    if row.status is RowStatus.FAILED:
        hint = ("Select it and press Retry to send it again." if can_retry(row)
                else RESEND_HINT)
        return f"{text}: {first_line(row.error)}\n{hint}"
    if row.status is RowStatus.WAITING and can_retry(row):
        return f"{text}: {row.error}\nIt is retried by itself; Retry tries it now."
    if row.status in (RowStatus.STALLED, RowStatus.UNCONFIRMED):
        return f"{text}: {row.error}"
    if row.status in (RowStatus.SKIPPED, RowStatus.WAITING) and row.error:
        return f"{text}: {row.error}"
    return text


def _delivery_tooltip(row: TransferRow) -> str:
    if row.direction is not Direction.UPLOAD:
        return ""
    lines = delivery_lines(row.deliveries, row.missing)
    if not lines and row.status is RowStatus.DONE:
        return "No destination has confirmed it yet."
    if row.status is RowStatus.UNCONFIRMED:
        lines.append("Select it and press Send again to send it again.")
    return "\n".join(lines)


def summary_text(summary: Summary) -> str:
    """One line about the listed files, each counted once per direction.

    ``"Files: 1 sending, 1 failed, 5 sent, 5 received — up 4.2 MiB/s, down 0 B/s"``.
    """
    if not (summary.active or summary.failed or summary.done or summary.waiting
            or summary.stalled or summary.unconfirmed):
        return "No transfers yet."
    rates = f"up {rate_or_zero(summary.up_rate)}, down {rate_or_zero(summary.down_rate)}"
    counts = ((summary.sending, "sending"), (summary.receiving, "receiving"),
              (summary.held, "paused"), (summary.waiting, "waiting"),
              (summary.stalled, "stalled"), (summary.unconfirmed, "not confirmed"),
              (summary.failed, "failed"), (summary.sent, "sent"),
              (summary.received, "received"))
    parts = ", ".join(f"{count} {word}" for count, word in counts if count)
    return f"Files: {parts} — {rates}"


def row_details(row: TransferRow) -> str:
    """Everything about one row, for the pane under the table (the error in full)."""
    lines = [f"{row.relpath} ({direction_text(row.direction).split(' ', 1)[1].lower()}, "
             f"{row.place_detail or row.job})", f"{status_text(row)}"]
    if row.error:
        lines[-1] += f": {row.error.strip()}"
    lines += delivery_lines(row.deliveries, row.missing)
    if row.status is RowStatus.DONE and row.processing is not None:
        lines[1:2] = ["Received", *processing_lines(row.processing)]
    # What a failed row allows is the selection hint's (it covers several rows).
    if row.status is RowStatus.WAITING:
        lines.append("It is retried by itself; Retry tries it now." if can_retry(row)
                     else "It is retried by itself.")
    return "\n".join(line for line in lines if line)


def selection_hint(rows: list[TransferRow]) -> str:
    """What the user should know about the selected rows (empty if nothing)."""
    if any(can_retry(row) for row in rows):
        return ""
    if any(row.status is RowStatus.FAILED and row.direction is Direction.DOWNLOAD
           for row in rows):
        return RESEND_HINT
    if any(row.status is RowStatus.FAILED for row in rows):
        return "This upload's folder is not known, so it cannot be retried from here."
    return ""
