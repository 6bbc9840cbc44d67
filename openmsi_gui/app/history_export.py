"""The transfer history as CSV, one format for ``openmsi history`` and the GUI's export.

Every column holds the full value: sizes in bytes, times in ISO 8601 UTC with
their offset (``2026-12-05T23:24:56+00:00``), the whole SHA-512. The column names
are those ``openmsi history`` always wrote, so scripts reading it keep working; the
next three (what was done with an upload's file after its delivery) came later, then
``metadata``: the information sent or received with the file, as a JSON object ("" if none).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from openmsi_gui.engine.registry import HistoryRow
from openmsi_gui.engine.untrusted import escaped

CSV_HEADER = ("direction", "topic", "path", "size", "status", "error", "started",
              "completed", "sha512", "after_delivery", "after_delivery_at", "moved_to",
              "metadata")


def iso_utc(epoch: float | None) -> str:
    """``epoch`` as ISO 8601 in UTC with its offset, to the second; empty if unknown."""
    if not epoch:  # None, or 0: never set
        return ""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="seconds")


def csv_record(row: HistoryRow) -> list[str]:
    """One CSV line of ``row``, in the order of :data:`CSV_HEADER`."""
    return [row.direction, row.topic, row.relpath, str(row.size), row.status, row.error,
            iso_utc(row.started), iso_utc(row.completed), row.sha512_hex,
            row.after_delivery, iso_utc(row.after_delivery_at), row.after_delivery_to,
            row.metadata]


def write_history(stream: TextIO, rows: Iterable[HistoryRow], *,
                  for_terminal: bool = False) -> int:
    """Write the header and ``rows`` to ``stream``; return how many rows were written.

    Args:
        stream: where the CSV goes.
        rows: the history.
        for_terminal: the stream is a terminal: paths and errors (a download's path
            came from a message) are escaped, so no name can drive it. A file
            gets the exact values.
    """
    writer = csv.writer(stream)
    writer.writerow(CSV_HEADER)
    count = 0
    for row in rows:
        shown = (dataclasses.replace(row, relpath=escaped(row.relpath, limit=None),
                                     error=escaped(row.error, limit=None),
                                     metadata=escaped(row.metadata, limit=None))
                 if for_terminal else row)
        writer.writerow(csv_record(shown))
        count += 1
    return count


def export_history(path: Path, rows: Iterable[HistoryRow]) -> int:
    """Write ``rows`` to the file ``path`` (UTF-8 with a BOM, for Excel); return the count."""
    with path.open("w", newline="", encoding="utf-8-sig") as stream:
        return write_history(stream, rows)
