"""The audit report from what the topics say (no broker: facts built from real messages)."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from helpers import chunks_of

from openmsi_gui.app import audit
from openmsi_gui.app.audit import DeliveryState, SentBy
from openmsi_gui.engine import wire
from openmsi_gui.engine.audit_scan import AuditFacts
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import UNKNOWN_SIZE, Receipt, ReceiptStatus, seal_receipt, trusted

TOPIC = "lab-data"
ARCHIVE = SigningIdentity.generate("archive")
MIRROR = SigningIdentity.generate("mirror")
SENDER = SigningIdentity.generate("instrument-pc")
TRUST = trusted(ARCHIVE.public, MIRROR.public, SENDER.public)


def put_file(facts: AuditFacts, relpath: str, data: bytes, when: float,
             skip: int | None = None) -> None:
    for chunk in chunks_of(data, relpath, chunk_size=1024):
        if chunk.chunk_i != skip:
            facts.take_chunk(wire.encode_chunk(chunk), when)


def receipt(identity: SigningIdentity, relpath: str, data: bytes, when: float,
            status: ReceiptStatus = ReceiptStatus.STORED, reason: str = "",
            size: int | None = None) -> bytes:
    made = Receipt(identity.name, TOPIC, relpath, hashlib.sha512(data).digest(),
                   len(data) if size is None else size, 0.0,
                   f"/srv/{relpath}" if status is ReceiptStatus.STORED else "", when, status,
                   reason)
    return seal_receipt(made, identity)


def facts_with(*receipts: bytes) -> AuditFacts:
    facts = AuditFacts(TOPIC, f"{TOPIC}.receipts")
    for value in receipts:
        facts.take_receipt(value, TRUST)
    return facts


def test_every_file_confirmed_by_every_expected_destination_is_clean() -> None:
    facts = facts_with(receipt(ARCHIVE, "a.bin", b"a" * 3000, 20.0),
                       receipt(MIRROR, "a.bin", b"a" * 3000, 21.0))
    put_file(facts, "a.bin", b"a" * 3000, 10.0)
    report = audit.build_report(facts, ["archive", "mirror"])
    assert report.exit_code == 0
    (row,) = report.rows
    assert (row.relpath, row.size, row.sent_time, row.sent_by) == (
        "a.bin", 3000, 10.0, SentBy.DATA_TOPIC)
    assert [c.state for c in row.cells] == [DeliveryState.DELIVERED] * 2
    assert report.summary.text() == "1 file sent, 1 confirmed by every expected destination"


def test_without_expect_every_destination_heard_from_is_expected() -> None:
    facts = facts_with(receipt(MIRROR, "a.bin", b"a", 20.0), receipt(ARCHIVE, "b.bin", b"b", 20.0))
    put_file(facts, "a.bin", b"a", 10.0)
    put_file(facts, "b.bin", b"b", 11.0)
    report = audit.build_report(facts)
    assert report.destinations == ("archive", "mirror")
    assert [[c.text() for c in r.cells] for r in report.rows] == [
        ["missing", "delivered 1970-01-01T00:00:20+00:00"],
        ["delivered 1970-01-01T00:00:20+00:00", "missing"]]
    assert report.exit_code == 1


def test_no_destination_at_all_confirms_nothing() -> None:
    facts = facts_with()
    put_file(facts, "a.bin", b"a", 10.0)
    report = audit.build_report(facts)
    assert report.destinations == ()
    assert report.exit_code == 1


def test_the_latest_word_of_a_destination_wins() -> None:
    data = b"x" * 100
    facts = facts_with(receipt(ARCHIVE, "x", data, 30.0),
                       receipt(ARCHIVE, "x", data, 20.0, ReceiptStatus.FAILED, "disk"),
                       receipt(MIRROR, "x", data, 20.0),
                       receipt(MIRROR, "x", data, 25.0, ReceiptStatus.FAILED,
                               "unsafe file name", size=UNKNOWN_SIZE))
    put_file(facts, "x", data, 10.0)
    (row,) = audit.build_report(facts, ["archive", "mirror"]).rows
    assert [c.text() for c in row.cells] == ["delivered 1970-01-01T00:00:30+00:00",
                                             "failed: unsafe file name"]


def test_a_receipt_for_other_content_or_another_topic_does_not_confirm() -> None:
    other_topic = Receipt("archive", "elsewhere", "a.bin", hashlib.sha512(b"a").digest(), 1,
                          0.0, "/x", 20.0, ReceiptStatus.STORED)
    facts = facts_with(receipt(ARCHIVE, "a.bin", b"old content", 20.0),
                       seal_receipt(other_topic, ARCHIVE))
    put_file(facts, "a.bin", b"a", 10.0)
    (row,) = audit.build_report(facts, ["archive"]).rows
    assert row.cells[0].state is DeliveryState.MISSING


def test_a_sent_record_makes_a_row_even_when_the_data_is_gone() -> None:
    sent = Receipt("instrument-pc", TOPIC, "lost.bin", hashlib.sha512(b"lost").digest(), 4,
                   5.0, "", 12.0, ReceiptStatus.SENT)
    facts = facts_with(seal_receipt(sent, SENDER))
    report = audit.build_report(facts, ["archive"])
    (row,) = report.rows
    assert (row.relpath, row.size, row.sent_time, row.sent_by, row.sender, row.on_topic) == (
        "lost.bin", 4, 12.0, SentBy.RECORD, "instrument-pc", False)
    assert row.cells[0].state is DeliveryState.MISSING
    assert report.summary.text() == (
        "1 file sent, 0 confirmed by every expected destination, 1 missing")


def test_files_with_chunks_missing_are_counted_not_listed() -> None:
    facts = facts_with()
    put_file(facts, "half.bin", b"h" * 3000, 10.0, skip=2)
    put_file(facts, "whole.bin", b"w" * 3000, 10.0)
    facts.take_chunk(b"\x00not a chunk", 10.0)
    report = audit.build_report(facts, ["archive"])
    assert [r.relpath for r in report.rows] == ["whole.bin"]
    assert report.summary.incomplete == 1
    assert report.summary.text().endswith(
        "; 1 file with chunks missing on the topic; 1 message on the data topic not readable")


def test_since_keeps_files_sent_from_then_on() -> None:
    facts = facts_with()
    put_file(facts, "old.bin", b"o", 10.0)
    put_file(facts, "new.bin", b"n", 100.0)
    report = audit.build_report(facts, ["archive"], since=50.0)
    assert [r.relpath for r in report.rows] == ["new.bin"]


def test_untrusted_receipts_are_counted_by_kind() -> None:
    stranger = SigningIdentity.generate("archive")
    facts = facts_with(receipt(stranger, "a.bin", b"a", 20.0), b"garbage", b"")
    put_file(facts, "a.bin", b"a", 10.0)
    report = audit.build_report(facts, ["archive"])
    assert report.rows[0].cells[0].state is DeliveryState.MISSING
    assert report.summary.untrusted == {"from a destination or sender not paired here": 1,
                                        "not a receipt": 2}


def test_text_escapes_names_and_reasons_from_messages() -> None:
    evil = "e\x1b[31mvil\u202e.txt"
    facts = facts_with(receipt(ARCHIVE, evil, b"e", 20.0, ReceiptStatus.FAILED,
                               "bad\nline"))
    put_file(facts, evil, b"e", 10.0)
    lines = audit.text_lines(audit.build_report(facts, ["archive"]))
    assert "\x1b" not in "".join(lines)
    assert "\u202e" not in "".join(lines)
    assert len(lines) == 3
    assert "failed: bad\\nline" in lines[1]


def test_csv_and_json_keep_exact_values() -> None:
    name = "µm scan, 1.tif"
    facts = facts_with(receipt(ARCHIVE, name, b"s" * 10, 20.0))
    put_file(facts, name, b"s" * 10, 10.0)
    report = audit.build_report(facts, ["archive"])
    stream = io.StringIO()
    assert audit.write_csv(stream, report) == 1
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows == [["path", "size", "sha512", "sent", "archive"],
                    [name, "10", hashlib.sha512(b"s" * 10).hexdigest(),
                     "1970-01-01T00:00:10+00:00", "delivered 1970-01-01T00:00:20+00:00"]]
    text = audit.json_text(report)
    assert text.isascii()
    data = json.loads(text)
    assert data["files"][0]["path"] == name
    assert data["summary"]["clean"] is True


@pytest.mark.parametrize(("text", "ok"), [
    ("2026-12-01", True), ("2026-12-01T08:00", True), ("2026-12-01T08:00+02:00", True),
    ("yesterday", False), ("12/01/2026", False)])
def test_parse_since(text: str, ok: bool) -> None:
    if ok:
        assert audit.parse_since(text) > 0
    else:
        with pytest.raises(audit.SinceError, match="is not a date"):
            audit.parse_since(text)
