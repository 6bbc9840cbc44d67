"""A received file's processing in the transfers book and in words, without Qt."""

from __future__ import annotations

from openmsi_gui.app.history import (
    HistoryColumn,
    entry_cell,
    entry_matches,
    entry_tooltip,
    load_history,
)
from openmsi_gui.app.processing_rows import (
    MAX_SHOWN_OUTPUT,
    Processing,
    processing_lines,
    processing_tooltip,
    processing_word,
)
from openmsi_gui.app.settings import Destination, Settings
from openmsi_gui.app.transfer_rows import can_retry_processing, job_places, row_details, status_text
from openmsi_gui.app.transfers import RowStatus, TransferBook
from openmsi_gui.engine.events import Direction, FileCompleted, FileDiscovered
from openmsi_gui.engine.processing.api import ProcessingResult, ProcessingState
from openmsi_gui.engine.processing.records import ProcessingBook
from openmsi_gui.engine.registry import Registry

JOB = "dest:d1"
FAILED = Processing(ProcessingState.FAILED, "it timed out after 1 min", "x" * 10_000, "index")


def test_words() -> None:
    assert [processing_word(Processing(state)) for state in ProcessingState] == [
        "Processing…", "Processing…", "Processed", "Processing failed"]
    assert processing_tooltip(Processing(ProcessingState.PENDING)) == (
        "Received; waiting to be processed.")
    assert processing_tooltip(Processing(ProcessingState.OK, processor="count-lines")) == (
        "Received and processed by count-lines.")


def test_the_output_shown_is_bounded_and_keeps_its_end() -> None:
    output = processing_lines(FAILED)[1]
    assert output.startswith("Output:\n…")
    assert len(output) == len("Output:\n…") + MAX_SHOWN_OUTPUT


def test_the_book_lists_processing_and_counts_failures() -> None:
    book = TransferBook(max_rows=2)
    book.apply(FileCompleted(JOB, Direction.DOWNLOAD, "a.txt", 1, "ab", 0.1))
    row = book.set_processing(JOB, "a.txt", FAILED)
    assert row is not None
    assert status_text(row) == "Processing failed"
    assert can_retry_processing(row)
    assert "Processing failed by index: it timed out after 1 min" in row_details(row)
    assert book.problems().failed_processing == 1
    assert book.problems().text() == "1 file failed processing"

    # Received again meanwhile: the new generation says more than the old processing.
    book.apply(FileDiscovered(JOB, Direction.DOWNLOAD, "a.txt", 1))
    assert book.set_processing(JOB, "a.txt", FAILED) is None
    assert book.problems().failed_processing == 0

    # A file received before a restart and processed after it gets a row of its own...
    later = book.set_processing(JOB, "old.txt", FAILED)
    assert later is not None
    assert later.status is RowStatus.DONE
    assert book.problems().failed_processing == 1
    # ... trimmed like any finished row, and its failure with it.
    book.apply(FileCompleted(JOB, Direction.DOWNLOAD, "b.txt", 1, "ab", 0.1))
    book.apply(FileCompleted(JOB, Direction.DOWNLOAD, "c.txt", 1, "ab", 0.1))
    assert (JOB, Direction.DOWNLOAD, "old.txt") not in book.rows
    assert book.problems().failed_processing == 0


def test_dismissing_a_failed_processing_clears_the_problem() -> None:
    book = TransferBook()
    book.apply(FileCompleted(JOB, Direction.DOWNLOAD, "a.txt", 1, "ab", 0.1))
    book.set_processing(JOB, "a.txt", FAILED)
    book.drop([(JOB, Direction.DOWNLOAD, "a.txt")])
    assert not book.problems()
    assert book.set_processing("folder:x", "a.txt", FAILED) is not None  # not a destination
    assert not can_retry_processing(book.rows[("folder:x", Direction.DOWNLOAD, "a.txt")])


def test_the_history_says_how_a_download_was_processed(registry: Registry) -> None:
    done = registry.start_download("raw", "g", "/in", "S001/a.csv", b"\x01" * 64, 1, 0.0, "")
    registry.finish_download(done, "done", 10)
    other = registry.start_download("raw", "g", "/in", "S001/b.csv", b"\x02" * 64, 1, 0.0, "")
    registry.finish_download(other, "done", 10)
    book = ProcessingBook(registry)
    record = book.queue("raw", "/in", "S001/a.csv", b"\x01" * 64, "/in/S001/a.csv", 10, {},
                        "index")
    book.running(record.id)
    book.finish(record.id, ProcessingResult.failure("the command exited with code 2",
                                                    "line 1\nboom \x1b[2J"))
    entries = {e.row.relpath: e for e in load_history(registry)}
    failed = entries["S001/a.csv"]
    assert entry_cell(failed, HistoryColumn.DELIVERY) == "Processing failed"
    assert entry_tooltip(failed, HistoryColumn.DELIVERY) == (
        "Processing failed by index: the command exited with code 2\n"
        "Output:\nline 1\nboom \\x1b[2J")
    assert entry_matches(failed, "processing failed")
    assert entry_cell(entries["S001/b.csv"], HistoryColumn.DELIVERY) == ""  # nothing ran yet
    ok = book.queue("raw", "/in", "S001/b.csv", b"\x02" * 64, "/in/S001/b.csv", 10, {}, "index")
    book.finish(ok.id, ProcessingResult.success({"lines": 3, "sample": "S001"}))
    processed = {e.row.relpath: e for e in load_history(registry)}["S001/b.csv"]
    assert entry_cell(processed, HistoryColumn.DELIVERY) == "Processed"
    assert entry_tooltip(processed, HistoryColumn.DELIVERY) == (
        'Processed by index\nResult: {"lines": 3, "sample": "S001"}')


def test_a_reprocess_run_is_named_after_its_destination() -> None:
    settings = Settings(destinations=[Destination(id="d1", path="/srv/inbox", topic="lab")])
    places = job_places(settings)
    assert places["reprocess:d1"] == ("inbox (reprocess)",
                                      "topic lab → reprocessing for /srv/inbox")
