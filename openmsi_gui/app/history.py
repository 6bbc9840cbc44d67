"""The transfer history for people, without Qt: cells, sort keys and search.

:mod:`openmsi_gui.ui.views.history` renders it; the CSV export lives in
:mod:`openmsi_gui.app.history_export`.
"""

from __future__ import annotations

import datetime
import enum
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmsi_gui.app.confirming import folder_expectation
from openmsi_gui.app.delivery_state import (
    DestinationWord,
    delivery_cell,
    delivery_lines,
    words_from_deliveries,
)
from openmsi_gui.app.formatting import (
    direction_text,
    first_line,
    format_bytes,
    format_transferred,
)
from openmsi_gui.app.processing_rows import history_processing
from openmsi_gui.app.settings import Settings
from openmsi_gui.engine.confirmation import Expectation
from openmsi_gui.engine.deliveries import Delivery, DeliveryBook
from openmsi_gui.engine.events import DeliveryStatus, Direction
from openmsi_gui.engine.metadata import from_json
from openmsi_gui.engine.processing.records import ProcessingBook, ProcessingRecord
from openmsi_gui.engine.registry import HistoryRow, Registry
from openmsi_gui.engine.untrusted import escaped

HISTORY_LIMIT = 10_000


class HistoryColumn(enum.IntEnum):
    """Columns of the history table, in order."""

    DIRECTION = 0
    TOPIC = 1
    PATH = 2
    SIZE = 3
    STATUS = 4
    DELIVERY = 5
    ERROR = 6
    STARTED = 7
    COMPLETED = 8
    SHA512 = 9


HEADERS = {
    HistoryColumn.DIRECTION: "Direction",
    HistoryColumn.TOPIC: "Topic",
    HistoryColumn.PATH: "Path",
    HistoryColumn.SIZE: "Size",
    HistoryColumn.STATUS: "Status",
    HistoryColumn.DELIVERY: "Delivery",
    HistoryColumn.ERROR: "Error",
    HistoryColumn.STARTED: "Started",
    HistoryColumn.COMPLETED: "Completed",
    HistoryColumn.SHA512: "SHA-512",
}
_COLUMNS = tuple(HistoryColumn)

_STATUS_WORDS = {"done": "Done", "failed": "Failed", "sending": "Sending",
                 "receiving": "Receiving", "superseded": "Superseded"}


def format_time(epoch: float | None) -> str:
    """Local date and time to the second, or empty."""
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def history_direction_text(direction: str) -> str:
    """``"↑ Upload"`` / ``"↓ Download"`` for the registry's direction word."""
    try:
        return direction_text(Direction(direction))
    except ValueError:
        return direction


def history_status_text(status: str, after_delivery: str = "") -> str:
    """The registry's status word, capitalised; an upload's file moved or deleted says so."""
    return _AFTER_WORDS.get(after_delivery) or _STATUS_WORDS.get(status, status.capitalize())


_AFTER_WORDS = {"moved": "Done, moved to archive", "deleted": "Done, deleted"}


def after_delivery_text(row: HistoryRow) -> str | None:
    """What was done with an upload's file after its delivery, with when and where."""
    when = format_time(row.after_delivery_at)
    if row.after_delivery == "moved":
        return f"Moved to {row.after_delivery_to} on {when}, once every expected " \
               "destination had confirmed it"
    if row.after_delivery == "deleted":
        return f"Deleted on {when}, once every expected destination had confirmed it"
    if row.after_delivery == "gone":
        return "No longer in the folder when it was due to be moved or deleted"
    return None


def expected_size(row: HistoryRow) -> tuple[int, bool]:
    """The file's size and whether it is estimated (a download not received in full)."""
    if row.size or row.status == "done":
        return row.size, False
    if row.done_chunks and row.n_chunks:
        return round(row.done_bytes / row.done_chunks * row.n_chunks), True
    return 0, False


def size_text(row: HistoryRow) -> str:
    """``"5.7 MiB"`` once done; ``"1.2 / 5.7 MiB"`` (``"/ ~5.7"`` when estimated) before."""
    if row.status == "done":
        return format_bytes(row.size)
    total, estimated = expected_size(row)
    return format_transferred(row.done_bytes, total, estimated)


def history_cell(row: HistoryRow, column: HistoryColumn) -> str:
    """What one cell shows (the SHA-512 shortened; the tooltip has all of it).

    The Delivery column is the entry's (see :func:`entry_cell`): "" here.
    """
    if column is HistoryColumn.DELIVERY:
        return ""
    if column is HistoryColumn.DIRECTION:
        return history_direction_text(row.direction)
    if column is HistoryColumn.TOPIC:
        return row.topic
    if column is HistoryColumn.PATH:  # a download's path came from a message
        return escaped(row.relpath, limit=None)
    if column is HistoryColumn.SIZE:
        return size_text(row)
    if column is HistoryColumn.STATUS:
        return history_status_text(row.status, row.after_delivery)
    if column is HistoryColumn.ERROR:
        return escaped(first_line(row.error), limit=None)
    if column is HistoryColumn.STARTED:
        return format_time(row.started)
    if column is HistoryColumn.COMPLETED:
        return format_time(row.completed)
    return f"{row.sha512_hex[:16]}…" if len(row.sha512_hex) > 16 else row.sha512_hex


def history_tooltip(row: HistoryRow, column: HistoryColumn) -> str | None:
    """The longer text of one cell (the exact size, the whole hash or error), or None."""
    if column is HistoryColumn.SIZE:
        total, estimated = expected_size(row)
        if row.status == "done" or (total and row.done_bytes >= total and not estimated):
            return f"{row.size:,} bytes"
        if not total:
            return f"{row.done_bytes:,} bytes so far" if row.done_bytes else None
        about = "about " if estimated else ""
        return f"{row.done_bytes:,} of {about}{total:,} bytes"
    if column is HistoryColumn.SHA512:
        return row.sha512_hex or None
    if column is HistoryColumn.ERROR:
        return "\n".join(escaped(line, limit=None) for line in row.error.splitlines()) or None
    if column is HistoryColumn.PATH:  # with the information sent with the file, if any
        return "\n".join([history_cell(row, column), *information_lines(row)])
    if column is HistoryColumn.TOPIC:
        return history_cell(row, column)
    if column is HistoryColumn.STATUS:
        return after_delivery_text(row)
    return None


def information_lines(row: HistoryRow) -> list[str]:
    """``name = value`` for each field sent or received with the file (escaped)."""
    return [f"{escaped(key, 64)} = {escaped(value, 200)}"
            for key, value in from_json(row.metadata).items()]


def history_sort_value(row: HistoryRow, column: HistoryColumn) -> Any:
    """What one cell sorts by: numbers for size and times, folded text otherwise."""
    if column is HistoryColumn.SIZE:
        return expected_size(row)[0] or row.done_bytes
    if column is HistoryColumn.STARTED:
        return row.started
    if column is HistoryColumn.COMPLETED:
        return -math.inf if row.completed is None else row.completed
    if column is HistoryColumn.SHA512:
        return row.sha512_hex
    return history_cell(row, column).casefold()


def search_text(row: HistoryRow, delivery: str = "") -> str:
    """Everything a search may match in ``row``, case-folded, columns kept apart."""
    parts = [history_cell(row, column) for column in HistoryColumn]
    parts += [row.direction, row.status, row.error, row.sha512_hex, str(row.size), delivery,
              *information_lines(row)]
    return "\0".join(parts).casefold()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A history row, its precomputed search text and what destinations said about it.

    Attributes:
        row: the registry's row.
        haystack: what a search matches (see :func:`search_text`).
        delivery: the Delivery column (an upload: delivered, failed there, not confirmed).
        delivery_detail: one line per destination, for the tooltip.
    """

    row: HistoryRow
    haystack: str
    delivery: str = ""
    delivery_detail: str = ""

    @property
    def key(self) -> tuple[str, str, str, float]:
        """Identifies a transfer across refreshes: direction, topic, path, start."""
        return (self.row.direction, self.row.topic, self.row.relpath, self.row.started)


FolderExpectations = Mapping[tuple[str, str], Expectation]
"""What each watched folder expects, by ``(topic, folder path)`` (see :func:`expectations`)."""


def expectations(settings: Settings) -> dict[tuple[str, str], Expectation]:
    """The watched folders' expected destinations and deadlines, for the history."""
    found = {}
    for folder in settings.folders:
        expectation = folder_expectation(folder)
        if expectation is not None:
            found[folder.topic, str(Path(folder.path))] = expectation
    return found


def make_entries(rows: Iterable[HistoryRow],
                 deliveries: Mapping[tuple[str, str, bytes], list[Delivery]] | None = None,
                 expected: FolderExpectations | None = None,
                 now: float | None = None,
                 processing: Mapping[tuple[str, str, bytes], list[ProcessingRecord]]
                 | None = None) -> list[HistoryEntry]:
    """Wrap rows with their search text and deliveries (done off the GUI thread).

    An upload sent longer ago than its folder's deadline that an expected
    destination has not confirmed says *Not confirmed by* that destination. A
    download's Delivery column says how its processing went, where one ran.
    """
    now = time.time() if now is None else now
    entries = []
    for row in rows:
        delivery = detail = ""
        if row.direction == "upload":
            words = words_from_deliveries((deliveries or {}).get(
                (row.topic, row.relpath, bytes.fromhex(row.sha512_hex)), []))
            missing = _missing(row, words, (expected or {}).get((row.topic, row.root)), now)
            delivery = delivery_cell(words, missing, now)
            detail = "\n".join(delivery_lines(words, missing, now))
        elif processing and row.status == "done":  # a download: what ran on it here
            delivery, detail = history_processing(processing.get(
                (row.topic, row.relpath, bytes.fromhex(row.sha512_hex)), []))
        entries.append(HistoryEntry(row, search_text(row, delivery), delivery, detail))
    return entries


def _missing(row: HistoryRow, words: Mapping[str, DestinationWord],
             expectation: Expectation | None, now: float) -> tuple[str, ...]:
    if (expectation is None or row.status != "done" or row.completed is None
            or row.completed + expectation.deadline > now):
        return ()
    return tuple(name for name in expectation.destinations
                 if name not in words or words[name].status is not DeliveryStatus.DELIVERED)


def load_history(registry: Registry, limit: int = HISTORY_LIMIT,
                 expected: FolderExpectations | None = None) -> list[HistoryEntry]:
    """Read the registry's history and deliveries (blocking: run it on a worker thread)."""
    rows = registry.history(limit)
    deliveries = DeliveryBook(registry).for_files(
        (row.topic, row.relpath, bytes.fromhex(row.sha512_hex)) for row in rows
        if row.direction == "upload")
    processing = ProcessingBook(registry).for_files(
        (row.topic, row.relpath, bytes.fromhex(row.sha512_hex)) for row in rows
        if row.direction == "download" and row.status == "done")
    return make_entries(rows, deliveries, expected, processing=processing)


def entry_cell(entry: HistoryEntry, column: HistoryColumn) -> str:
    """What one cell of ``entry`` shows (:func:`history_cell`, and its Delivery)."""
    return entry.delivery if column is HistoryColumn.DELIVERY else history_cell(entry.row,
                                                                                 column)


def entry_tooltip(entry: HistoryEntry, column: HistoryColumn) -> str | None:
    """The longer text of one cell of ``entry`` (:func:`history_tooltip`, and its Delivery)."""
    if column is HistoryColumn.DELIVERY:
        return entry.delivery_detail or None
    return history_tooltip(entry.row, column)


def entry_matches(entry: HistoryEntry, needle: str) -> bool:
    """Whether ``entry`` contains ``needle`` in any column, in any case."""
    folded = needle.strip().casefold()
    return not folded or folded in entry.haystack


def sort_entries(entries: list[HistoryEntry], column: int,
                 descending: bool) -> list[HistoryEntry]:
    """``entries`` ordered by ``column`` (newest first when ``column`` is -1)."""
    if not 0 <= column < len(HistoryColumn):
        return sorted(entries, key=lambda e: e.row.started, reverse=True)
    col = HistoryColumn(column)
    if col is HistoryColumn.DELIVERY:
        return sorted(entries, key=lambda e: e.delivery.casefold(), reverse=descending)
    return sorted(entries, key=lambda e: history_sort_value(e.row, col), reverse=descending)
