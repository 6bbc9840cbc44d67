"""The audit: whether every file sent on a topic reached every expected destination.

One report for ``openmsi audit`` and the GUI's Audit window: a row per file sent
(path, size, SHA-512, when it was sent, and per expected destination
*delivered* with its time, *failed: reason* or *missing*), a summary, and the
same rows as text, CSV or JSON. It is built from what the topics say
(:mod:`openmsi_gui.engine.audit_scan`), never from this machine's registry, so it
runs anywhere the topics can be read. A file was *sent* when a trusted sender's
SENT record says so or every one of its chunks is on the data topic (files from
``openmsistream``). Only receipts that verify with the pairings here count;
the others are counted in the summary and never believed.

Rows keep the exact values from the topics; :func:`text_lines` (a terminal) and
the GUI escape them, the CSV file and JSON keep them exact (JSON escapes every
non-ASCII and control character itself).
"""

from __future__ import annotations

import csv
import datetime
import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from openmsi_gui.app.formatting import count_text
from openmsi_gui.app.history_export import iso_utc
from openmsi_gui.app.status import StatusKind
from openmsi_gui.engine.audit_scan import AuditFacts, FileKey, scan
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import PublicIdentity
from openmsi_gui.engine.receipts import FileIdentity, Receipt, ReceiptStatus, RejectKind
from openmsi_gui.engine.untrusted import escaped

HASH_PREFIX = 12  # hex digits of the SHA-512 shown in the table
FIRST_DESTINATION = 4  # the column of the first expected destination
SCAN_MARGIN = 3600.0  # read this much before --since: a file's chunks may start earlier


TimeText = Callable[[float], str]
"""How a report writes a time (epoch seconds)."""


class SinceError(ValueError):
    """A ``--since`` that is not a date; the message says how to write one."""


class DeliveryState(enum.Enum):
    """What an expected destination said about one file."""

    DELIVERED = "delivered"
    FAILED = "failed"
    MISSING = "missing"


class SentBy(enum.Enum):
    """How the audit knows a file was sent."""

    RECORD = "sent record"  # a trusted sender's signed SENT record
    DATA_TOPIC = "data topic"  # every chunk is on the data topic (e.g. openmsistream)


@dataclass(frozen=True)
class DestinationCell:
    """One expected destination's word on one file.

    Attributes:
        destination: its name.
        state: delivered, failed or missing.
        time: when its receipt was made (0 when missing).
        reason: why it failed (exact, from the receipt).
        stored_at: where it stored the file (exact, from the receipt).
    """

    destination: str
    state: DeliveryState
    time: float = 0.0
    reason: str = ""
    stored_at: str = ""

    def text(self, time_text: TimeText = iso_utc) -> str:
        """``delivered 2026-12-06T02:59:01+00:00``, ``failed: reason`` or ``missing``."""
        if self.state is DeliveryState.DELIVERED:
            return f"delivered {time_text(self.time)}"
        if self.state is DeliveryState.FAILED:
            return f"failed: {self.reason}"
        return "missing"


@dataclass(frozen=True)
class AuditRow:
    """One file sent on the topic and what each expected destination said.

    Attributes:
        relpath: its path relative to the sender's folder (exact, from the topic).
        size: its size in bytes.
        sha512: its SHA-512.
        sent_time: when it was sent (the sent record's time, else its last chunk's).
        sent_by: how the audit knows it was sent.
        sender: the sender's name (from its sent record; "" if found on the data topic).
        on_topic: every chunk of it is still on the data topic.
        cells: one per expected destination, in the report's order.
    """

    relpath: str
    size: int
    sha512: bytes
    sent_time: float
    sent_by: SentBy
    sender: str
    on_topic: bool
    cells: tuple[DestinationCell, ...]

    @property
    def confirmed(self) -> bool:
        """Whether every expected destination stored it (never, with none expected)."""
        return bool(self.cells) and all(c.state is DeliveryState.DELIVERED for c in self.cells)

    @property
    def hash_prefix(self) -> str:
        """The first hex digits of its SHA-512."""
        return self.sha512.hex()[:HASH_PREFIX]


@dataclass(frozen=True)
class AuditSummary:
    """The counts under the rows.

    Attributes:
        files: files sent.
        confirmed: files stored by every expected destination.
        failed: files that failed at one expected destination at least.
        missing: files with no word from one expected destination at least.
        untrusted: receipts-topic messages not trusted, by reason (words).
        incomplete: files with some chunks on the data topic, not all, and no sent record.
        not_chunks: data-topic messages that are not readable chunks (encrypted ones too).
        receipts_topic_missing: the receipts topic does not exist.
        data_topic_missing: the data topic does not exist (any more).
    """

    files: int
    confirmed: int
    failed: int
    missing: int
    untrusted: Mapping[str, int]
    incomplete: int
    not_chunks: int
    receipts_topic_missing: bool = False
    data_topic_missing: bool = False

    @property
    def clean(self) -> bool:
        """Whether every file is confirmed by every expected destination."""
        return self.confirmed == self.files

    def text(self) -> str:
        """One line: the counts, then what was not trusted or not readable."""
        parts = [f"{count_text(self.files, 'file')} sent, {self.confirmed} confirmed by every "
                 f"expected destination"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.missing:
            parts.append(f"{self.missing} missing")
        line = ", ".join(parts)
        untrusted = sum(self.untrusted.values())
        if untrusted:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.untrusted.items()))
            line += f"; {count_text(untrusted, 'receipt')} not trusted ({kinds})"
        if self.incomplete:
            line += f"; {count_text(self.incomplete, 'file')} with chunks missing on the topic"
        if self.not_chunks:
            line += f"; {count_text(self.not_chunks, 'message')} on the data topic not readable"
        if self.receipts_topic_missing:
            line += "; the receipts topic does not exist"
        if self.data_topic_missing:
            line += "; the data topic does not exist"
        return line


@dataclass(frozen=True)
class AuditReport:
    """The audit of one topic.

    Attributes:
        topic: the data topic.
        receipts_topic: the receipts topic read.
        destinations: the expected destinations, in column order.
        rows: one per file sent, oldest first.
        summary: the counts.
        since: only files sent at or after this time (epoch seconds; None: all).
    """

    topic: str
    receipts_topic: str
    destinations: tuple[str, ...]
    rows: tuple[AuditRow, ...]
    summary: AuditSummary
    since: float | None = None

    @property
    def exit_code(self) -> int:
        """0 when every file is confirmed by every expected destination, else 1."""
        return 0 if self.summary.clean else 1


_UNTRUSTED = {RejectKind.UNKNOWN_DESTINATION: "from a destination or sender not paired here",
              RejectKind.WRONG_NAME: "naming another destination or sender than its key's"}
"""How the summary says a kind of untrusted receipt (sent records come from senders)."""


def parse_since(text: str) -> float:
    """An ISO date or date-time (``2026-12-01``, ``2026-12-01T08:00``) as epoch seconds.

    A time without an offset is local time.

    Raises:
        SinceError: with a sentence saying what is expected.
    """
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise SinceError(f"--since {text!r} is not a date: write it as 2026-12-01 or "
                         "2026-12-01T08:00 (local time) or 2026-12-01T08:00+00:00") from exc
    return when.timestamp()  # naive: local time, as a user writes it


def build_report(facts: AuditFacts, expected: Sequence[str] = (),
                 since: float | None = None) -> AuditReport:
    """The report from what the topics say.

    Args:
        facts: what the data and receipts topics hold.
        expected: destinations that must confirm every file; none: every destination
            that sent a trusted receipt about this topic.
        since: only files sent at or after this time.
    """
    destinations = tuple(dict.fromkeys(expected)) or tuple(sorted(
        {name for per in facts.receipts.values() for name in per}))
    rows = [_row(facts, key, destinations) for key in _sent_files(facts)]
    rows = sorted((r for r in rows if since is None or r.sent_time >= since),
                  key=lambda r: (r.sent_time, r.relpath))
    incomplete = sum(1 for key, f in facts.on_topic.items()
                     if not f.complete and key not in facts.sent
                     and (since is None or f.last_time >= since))
    summary = AuditSummary(
        files=len(rows), confirmed=sum(r.confirmed for r in rows),
        failed=sum(any(c.state is DeliveryState.FAILED for c in r.cells) for r in rows),
        missing=sum(any(c.state is DeliveryState.MISSING for c in r.cells) for r in rows),
        untrusted={_UNTRUSTED.get(kind, kind.value): n for kind, n in facts.rejected.items()},
        incomplete=incomplete, not_chunks=facts.not_chunks,
        receipts_topic_missing=facts.receipts_topic_missing,
        data_topic_missing=facts.data_topic_missing)
    return AuditReport(facts.topic, facts.receipts_topic, destinations, tuple(rows), summary,
                       since)


def run_audit(config: KafkaConfig, topic: str, trust: Mapping[str, PublicIdentity],
              expected: Sequence[str] = (), since: float | None = None,
              receipts_topic: str = "", read_data: bool = True) -> AuditReport:
    """Read the topics (blocking: a worker thread in the GUI) and build the report.

    ``read_data`` False finds files from their sent records only (a large data topic is
    not read; files from ``openmsistream`` are then not found).

    Raises:
        BrokerError: the broker cannot be reached, or stops answering.
    """
    start = None if since is None else since - SCAN_MARGIN
    facts = scan(config, topic, trust, start, receipts_topic, read_data)
    return build_report(facts, expected, since)


def _sent_files(facts: AuditFacts) -> list[FileKey]:
    complete = [key for key, f in facts.on_topic.items() if f.complete]
    return list(dict.fromkeys([*facts.sent, *complete]))


def _row(facts: AuditFacts, key: FileKey, destinations: tuple[str, ...]) -> AuditRow:
    record = facts.sent.get(key)
    chunks = facts.on_topic.get(key)
    on_topic = chunks is not None and chunks.complete
    if record is not None:
        size, sent_time, sent_by, sender = record.size, record.time, SentBy.RECORD, \
            record.destination
    else:
        assert chunks is not None
        size, sent_time, sent_by, sender = chunks.size, chunks.last_time, SentBy.DATA_TOPIC, ""
    file = FileIdentity(facts.topic, key[0], key[1], size)
    said = facts.receipts.get(key, {})
    cells = tuple(_cell(name, said.get(name), file) for name in destinations)
    return AuditRow(key[0], size, key[1], sent_time, sent_by, sender, on_topic, cells)


def _cell(name: str, receipt: Receipt | None, file: FileIdentity) -> DestinationCell:
    if receipt is None or not receipt.confirms(file):
        return DestinationCell(name, DeliveryState.MISSING)
    if receipt.status is ReceiptStatus.STORED:
        return DestinationCell(name, DeliveryState.DELIVERED, receipt.time,
                               stored_at=receipt.stored_at)
    return DestinationCell(name, DeliveryState.FAILED, receipt.time, receipt.reason)


# -- output --------------------------------------------------------------------

def headers(report: AuditReport) -> list[str]:
    """The column names: path, size, SHA-512, sent, then one per expected destination."""
    return ["path", "size", "sha512", "sent", *report.destinations]


def shown_headers(report: AuditReport) -> list[str]:
    """:func:`headers` escaped for a terminal or the GUI (destination names are untrusted)."""
    return [escaped(h, 60) for h in headers(report)]


def shown_cells(row: AuditRow, time_text: TimeText = iso_utc) -> list[str]:
    """One row's cells as the terminal and the GUI show them (values from messages escaped).

    Args:
        row: the file.
        time_text: how times are written (ISO 8601 UTC on a terminal, local in the app).
    """
    return [escaped(row.relpath, 200), str(row.size), row.hash_prefix, time_text(row.sent_time),
            *(escaped(c.text(time_text), 120) for c in row.cells)]


def sort_keys(row: AuditRow) -> list[str | float]:
    """What each column of a row sorts by (sizes and times as numbers)."""
    return [row.relpath.casefold(), float(row.size), row.sha512.hex(), row.sent_time,
            *(c.state.value for c in row.cells)]


def cell_status(cell: DestinationCell) -> StatusKind:
    """The picture beside a destination's cell: delivered is OK, the rest a problem."""
    return StatusKind.OK if cell.state is DeliveryState.DELIVERED else StatusKind.PROBLEM


def text_lines(report: AuditReport) -> list[str]:
    """The report as aligned text for a terminal (every value from a message escaped)."""
    table = [shown_headers(report), *(shown_cells(row) for row in report.rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
             .rstrip() for line in table]
    return [*lines, report.summary.text()]


def csv_records(report: AuditReport) -> Iterable[list[str]]:
    """The CSV lines: the header, then one per file, exact values and whole SHA-512."""
    yield headers(report)
    for row in report.rows:
        yield [row.relpath, str(row.size), row.sha512.hex(), iso_utc(row.sent_time),
               *(c.text() for c in row.cells)]


def write_csv(stream: TextIO, report: AuditReport) -> int:
    """Write the report as CSV; return how many files were written."""
    writer = csv.writer(stream)
    writer.writerows(csv_records(report))
    return len(report.rows)


def export_csv(path: Path, report: AuditReport) -> int:
    """Write the report to the file ``path`` (UTF-8 with a BOM, for Excel, as the history)."""
    with path.open("w", newline="", encoding="utf-8-sig") as stream:
        return write_csv(stream, report)


def as_json(report: AuditReport) -> dict[str, Any]:
    """The report as plain JSON data (times in ISO 8601 UTC, hashes in hex)."""
    summary = report.summary
    return {
        "topic": report.topic,
        "receipts_topic": report.receipts_topic,
        "since": iso_utc(report.since) if report.since is not None else None,
        "expected": list(report.destinations),
        "files": [{
            "path": row.relpath, "size": row.size, "sha512": row.sha512.hex(),
            "sent": iso_utc(row.sent_time), "sent_by": row.sent_by.value,
            "sender": row.sender, "on_topic": row.on_topic, "confirmed": row.confirmed,
            "destinations": {c.destination: {
                "status": c.state.value, "time": iso_utc(c.time) or None,
                "reason": c.reason, "stored_at": c.stored_at} for c in row.cells},
        } for row in report.rows],
        "summary": {
            "files": summary.files, "confirmed": summary.confirmed, "failed": summary.failed,
            "missing": summary.missing, "untrusted_receipts": dict(summary.untrusted),
            "incomplete_on_topic": summary.incomplete,
            "unreadable_data_messages": summary.not_chunks,
            "receipts_topic_missing": summary.receipts_topic_missing,
            "data_topic_missing": summary.data_topic_missing,
            "clean": summary.clean, "text": summary.text(),
        },
    }


def json_text(report: AuditReport) -> str:
    """:func:`as_json` as text, safe for a terminal (every non-ASCII character escaped)."""
    return json.dumps(as_json(report), indent=2, ensure_ascii=True)
