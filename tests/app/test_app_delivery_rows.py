"""The sender sees delivery: rows fold receipts and Not confirmed (no Qt)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from openmsi_gui.app import transfer_rows as tr
from openmsi_gui.app.delivery_state import (
    DestinationWord,
    clock_time,
    delivery_cell,
    delivery_lines,
    unconfirmed_notice,
)
from openmsi_gui.app.history import (
    HistoryColumn,
    entry_cell,
    entry_tooltip,
    expectations,
    load_history,
    make_entries,
    sort_entries,
)
from openmsi_gui.app.settings import Settings, WatchedFolder
from openmsi_gui.app.transfer_rows import Column, FilterMode
from openmsi_gui.app.transfer_status import AppStatus
from openmsi_gui.app.transfers import RowStatus, TransferBook
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.events import (
    DeliveryStatus,
    Direction,
    FileCompleted,
    FileDelivery,
    FileDiscovered,
    FileUnconfirmed,
)
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry

JOB, UP = "folder:abc", Direction.UPLOAD
DELIVERED, FAILED = DeliveryStatus.DELIVERED, DeliveryStatus.FAILED
NOON = time.mktime((2026, 12, 5, 12, 0, 0, 0, 0, -1))


def sent_book(relpath: str = "run/a.tif", sha: str = "aa") -> TransferBook:
    book = TransferBook()
    book.apply(FileDiscovered(JOB, UP, relpath, 10))
    book.apply(FileCompleted(JOB, UP, relpath, 10, sha, 0.1))
    return book


def unconfirmed(relpath: str = "run/a.tif", missing: tuple[str, ...] = ("archive",),
                sha: str = "aa", resending: bool = False) -> FileUnconfirmed:
    return FileUnconfirmed(JOB, relpath, sha, 10, NOON, missing,
                           "not confirmed by archive within 1 h of sending (...)", resending)


def test_a_sent_file_shows_each_destination_delivered_with_its_time() -> None:
    book = sent_book()
    row = book.apply(FileDelivery(JOB, "run/a.tif", "aa", "archive", DELIVERED, NOON,
                                  where="/srv/in/run/a.tif"))
    assert row is not None
    assert tr.status_text(row) == "Sent"
    assert tr.cell_text(row, Column.DELIVERY) == f"Delivered {clock_time(NOON)} · archive"
    assert "/srv/in/run/a.tif" in tr.cell_tooltip(row, Column.DELIVERY)
    book.apply(FileDelivery(JOB, "run/a.tif", "aa", "mirror", DELIVERED, NOON + 60))
    assert tr.cell_text(row, Column.DELIVERY).endswith(" · 2 destinations")
    assert tr.row_details(row).count("Delivered to") == 2
    assert not book.problems()


def test_a_failure_at_a_destination_shows_its_reason() -> None:
    book = sent_book()
    row = book.apply(FileDelivery(JOB, "run/a.tif", "aa", "archive", FAILED, NOON,
                                  reason="hash mismatch"))
    assert row is not None
    assert tr.cell_text(row, Column.DELIVERY) == "Failed at archive"
    assert "Failed at archive at" in tr.cell_tooltip(row, Column.DELIVERY)
    assert "hash mismatch" in tr.row_details(row)


def test_a_receipt_for_another_content_or_an_unlisted_file_is_not_shown() -> None:
    book = sent_book()
    assert book.apply(FileDelivery(JOB, "run/a.tif", "bb", "archive", DELIVERED, NOON)) is None
    assert book.apply(FileDelivery(JOB, "other", "aa", "archive", DELIVERED, NOON)) is None


def test_not_confirmed_is_a_problem_until_every_missing_destination_confirms() -> None:
    book = sent_book()
    row = book.apply(unconfirmed(missing=("archive", "mirror")))
    assert row is not None
    assert row.status is RowStatus.UNCONFIRMED
    assert tr.status_text(row) == "Not confirmed"
    assert tr.cell_text(row, Column.DELIVERY) == "Not confirmed by archive and mirror"
    assert "Send again" in tr.cell_tooltip(row, Column.DELIVERY)
    assert tr.can_send_again(row)
    assert tr.row_matches(row, FilterMode.PROBLEMS)
    assert book.problems().unconfirmed_files == 1
    assert book.problems().text() == "1 file not confirmed"
    assert book.status(paused=False) is AppStatus.ERROR
    assert "1 not confirmed" in tr.summary_text(book.summary())
    book.apply(FileDelivery(JOB, "run/a.tif", "aa", "archive", DELIVERED, NOON))
    assert row.status is RowStatus.UNCONFIRMED
    assert tr.cell_text(row, Column.DELIVERY) == "Not confirmed by mirror"
    book.apply(FileDelivery(JOB, "run/a.tif", "aa", "mirror", DELIVERED, NOON))
    assert row.status is RowStatus.DONE
    assert row.error == ""
    assert not book.problems()


def test_a_file_sent_before_a_restart_gets_a_row_of_its_own() -> None:
    book = TransferBook()
    row = book.apply(unconfirmed())
    assert row is not None
    assert (row.direction, row.relpath, row.total_bytes) == (UP, "run/a.tif", 10)
    assert row.started == NOON
    assert book.problems().unconfirmed_files == 1


def test_sending_it_again_starts_a_new_row_and_ends_the_problem() -> None:
    book = sent_book()
    book.apply(unconfirmed(resending=True))
    book.apply(FileDiscovered(JOB, UP, "run/a.tif", 10))
    (row,) = book.rows.values()
    assert row.status is RowStatus.QUEUED
    assert not book.problems()
    # Not confirmed of the earlier sending, late, does not hide the new one.
    assert book.apply(unconfirmed()) is None


def test_dismissing_a_not_confirmed_row_ends_the_problem() -> None:
    book = sent_book()
    row = book.apply(unconfirmed())
    assert row is not None
    book.drop([row.key])
    assert not book.problems()


def test_delivery_texts() -> None:
    words = {"b": DestinationWord(DELIVERED, NOON, where="s3://x/y"),
             "a": DestinationWord(FAILED, NOON, reason="unsafe name")}
    assert delivery_cell({}) == ""
    assert delivery_cell(words) == "Failed at a"
    assert delivery_lines(words, ("c",), now=NOON) == [
        "Not confirmed by c in time", "Failed at a at 12:00: unsafe name",
        "Delivered to b at 12:00 (s3://x/y)"]
    assert clock_time(NOON, now=NOON + 86400) == "2026-12-05 12:00"


def test_files_found_not_confirmed_together_make_one_notification() -> None:
    assert unconfirmed_notice([]) is None
    title, text = unconfirmed_notice([unconfirmed()]) or ("", "")
    assert title == "A file was not confirmed"
    assert text == ("run/a.tif: not confirmed by archive in time. Select it in Transfers and "
                    "press Send again.")
    title, text = unconfirmed_notice([unconfirmed("a", resending=True),
                                      unconfirmed("b", ("mirror",), resending=True)]) or ("", "")
    assert title == "2 files were not confirmed"
    assert text == ("a and 1 more: not confirmed by archive and mirror in time; sent again by "
                    "itself.")


def test_the_history_says_what_each_destination_said_from_the_registry(
        tmp_path: Path) -> None:
    registry = Registry(tmp_path / "r.sqlite3")
    try:
        data = {"a.tif": b"a", "b.tif": b"b", "c.tif": b"c"}
        for relpath, content in data.items():
            upload_id, _ = registry.start_upload("lab", "/data/out", relpath, 1, 1,
                                                 hashlib.sha512(content).digest(), 1024, 1)
            registry.finish_upload(upload_id)
        book = DeliveryBook(registry)
        book.record(Receipt("archive", "lab", "a.tif", hashlib.sha512(b"a").digest(), 1, 0.0,
                            "/srv/a.tif", NOON, ReceiptStatus.STORED))
        book.record(Receipt("archive", "lab", "b.tif", hashlib.sha512(b"b").digest(), 1, 0.0,
                            "", NOON, ReceiptStatus.FAILED, "unsafe \x1b name"))
        settings = Settings(folders=[WatchedFolder(path="/data/out", topic="lab",
                                                   expected_destinations=["archive"],
                                                   delivery_deadline=60)])
        entries = {e.row.relpath: e for e in load_history(registry)}
        assert entries["a.tif"].delivery == f"Delivered {clock_time(NOON)} · archive"
        assert entry_cell(entries["a.tif"], HistoryColumn.DELIVERY) == entries["a.tif"].delivery
        assert "/srv/a.tif" in (entry_tooltip(entries["a.tif"], HistoryColumn.DELIVERY) or "")
        assert entries["b.tif"].delivery == "Failed at archive"
        assert "unsafe \\x1b name" in entries["b.tif"].delivery_detail  # escaped
        assert entries["c.tif"].delivery == ""  # nobody expected: nothing to say yet
        assert "· archive" in entries["a.tif"].haystack
        late = {e.row.relpath: e for e in load_history(registry, expected=expectations(settings))}
        assert late["c.tif"].delivery == ""  # sent just now: not late yet
        rows = registry.history()
        later = {e.row.relpath: e for e in make_entries(
            rows, book.for_files((r.topic, r.relpath, bytes.fromhex(r.sha512_hex)) for r in rows),
            expectations(settings), now=time.time() + 120)}
        assert later["c.tif"].delivery == "Not confirmed by archive"
        assert later["b.tif"].delivery == "Not confirmed by archive"  # failed there
        assert later["a.tif"].delivery.startswith("Delivered")
        ordered = sort_entries(list(later.values()), HistoryColumn.DELIVERY, descending=False)
        assert ordered[0].row.relpath == "a.tif"
    finally:
        registry.close()
