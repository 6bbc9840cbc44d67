"""Rows of the transfers table and the throughput plot's numbers, without Qt."""

from __future__ import annotations

from openmsi_gui.app import throughput as plot_mod
from openmsi_gui.app import transfer_rows as tr
from openmsi_gui.app.settings import Destination, DestinationKind, Settings, WatchedFolder
from openmsi_gui.app.transfer_rows import Column, FilterMode, selection_hint, summary_text
from openmsi_gui.app.transfers import RowStatus, Summary, TransferBook, TransferRow
from openmsi_gui.engine.events import Direction, FileDiscovered

UP, DOWN = Direction.UPLOAD, Direction.DOWNLOAD


def test_status_and_direction_texts() -> None:
    row = TransferRow("folder:a", UP, "f")
    assert tr.status_text(row) == "Queued"
    row.status = RowStatus.ACTIVE
    assert tr.status_text(row) == "Sending"
    row.direction = DOWN
    assert tr.status_text(row) == "Receiving"
    row.status = RowStatus.DONE
    assert tr.status_text(row) == "Received"


def test_a_row_about_no_file_yet_has_no_progress_bar() -> None:
    """E.g. the row of encrypted messages waiting for their keys."""
    parked = TransferRow("dest:a", DOWN, "(waiting for keys)", status=RowStatus.WAITING)
    assert not tr.shows_progress(parked)
    assert tr.cell_text(parked, Column.PROGRESS) == ""
    s3_retry = TransferRow("dest:a", DOWN, "big.bin", status=RowStatus.WAITING,
                           done_bytes=10, total_bytes=10)
    assert tr.shows_progress(s3_retry)
    assert tr.cell_text(s3_retry, Column.PROGRESS) == "100%"


def test_row_filters_and_retry_rules() -> None:
    failed_up = TransferRow("folder:abc", UP, "run/notes.txt", status=RowStatus.FAILED,
                            error="Message size too large")
    failed_down = TransferRow("dest:xyz", DOWN, "in/x.bin", status=RowStatus.FAILED,
                              error="hash mismatch")
    active = TransferRow("folder:abc", UP, "run/scan.h5", status=RowStatus.ACTIVE)
    queued = TransferRow("folder:abc", UP, "run/next.h5")
    done = TransferRow("folder:abc", UP, "run/old.h5", status=RowStatus.DONE)
    waiting = TransferRow("dest:xyz", DOWN, "in/y.bin", status=RowStatus.WAITING)
    rows = [failed_up, failed_down, active, queued, done, waiting]
    assert [r for r in rows if tr.row_matches(r, FilterMode.PROBLEMS)] == [
        failed_up, failed_down, waiting]
    assert [r for r in rows if tr.row_matches(r, FilterMode.ACTIVE)] == [active, queued, waiting]
    assert all(tr.row_matches(r, FilterMode.ALL) for r in rows)
    assert [r for r in rows if tr.row_matches(r, FilterMode.ALL, "  SIZE too ")] == [failed_up]
    assert [r for r in rows if tr.row_matches(r, FilterMode.ALL, "dest:")] == [
        failed_down, waiting]
    assert [r for r in rows if tr.row_matches(r, FilterMode.ALL, "download")] == [
        failed_down, waiting]
    assert tr.can_retry(failed_up)
    assert not tr.can_retry(failed_down)
    assert not tr.can_retry(done)
    assert not tr.can_retry(TransferRow("other", UP, "f", status=RowStatus.FAILED))
    assert tr.can_retry(TransferRow("dest:xyz", DOWN, "big.bin", status=RowStatus.WAITING))
    assert not tr.can_retry(TransferRow("download", DOWN, "big.bin", status=RowStatus.WAITING))
    assert tr.folder_id_of("folder:abc") == "abc"
    assert tr.folder_id_of("dest:abc") is None
    assert tr.folder_id_of("folder:") is None
    assert selection_hint([failed_up, failed_down]) == ""
    assert "sending computer" in selection_hint([failed_down])
    assert selection_hint([done]) == ""
    assert "Retry" in tr.cell_tooltip(failed_up, Column.STATUS)
    assert "sending computer" in tr.cell_tooltip(failed_down, Column.STATUS)


def test_summary_text() -> None:
    assert summary_text(Summary(0, 0, 0, 0.0, 0.0)) == "No transfers yet."
    assert summary_text(Summary(2, 1, 10, 4 * 1024 * 1024, 0.0, sending=1, receiving=1,
                                sent=5, received=5)) == (
        "Files: 1 sending, 1 receiving, 1 failed, 5 sent, 5 received — up 4 MiB/s, down 0 B/s")
    assert summary_text(Summary(0, 0, 0, 0.0, 0.0, waiting=1)) == (
        "Files: 1 waiting — up 0 B/s, down 0 B/s")


def test_the_place_column_tells_two_rows_of_one_file_apart() -> None:
    settings = Settings(
        folders=[WatchedFolder(id="f1", path="/data/outbox", topic="lab-data")],
        destinations=[Destination(id="d1", path="/srv/inbox", topic="lab-data"),
                      Destination(id="d2", kind=DestinationKind.S3, bucket="archive",
                                  prefix="raw/", topic="lab-data")])
    places = tr.job_places(settings)
    assert places["folder:f1"] == ("outbox", "/data/outbox → topic lab-data")
    assert places["dest:d1"] == ("inbox", "topic lab-data → /srv/inbox")
    assert places["dest:d2"] == ("s3://archive/raw", "topic lab-data → s3://archive/raw")
    book = TransferBook()
    book.set_places(places)
    one = book.apply(FileDiscovered("dest:d1", DOWN, "huge_run2.raw", 10))
    two = book.apply(FileDiscovered("dest:d2", DOWN, "huge_run2.raw", 10))
    assert one is not None
    assert two is not None
    assert tr.cell_text(one, Column.PLACE) != tr.cell_text(two, Column.PLACE)
    assert tr.cell_tooltip(one, Column.PLACE) == "topic lab-data → /srv/inbox"
    assert tr.row_matches(two, FilterMode.ALL, "s3://archive")
    # Two destinations both called "inbox" are named by their paths.
    settings.destinations[1] = Destination(id="d2", path="/mnt/nas/inbox", topic="lab-data")
    places = tr.job_places(settings)
    assert (places["dest:d1"][0], places["dest:d2"][0]) == ("/srv/inbox", "/mnt/nas/inbox")


def test_size_reads_received_over_total() -> None:
    mib = 1 << 20
    row = TransferRow("dest:d", DOWN, "big.raw", status=RowStatus.ACTIVE,
                      done_bytes=12 * mib, done_chunks=12, total_chunks=200)
    assert tr.cell_text(row, Column.SIZE) == "12.0 / ~200.0 MiB"
    assert "about" in tr.cell_tooltip(row, Column.SIZE)
    up = TransferRow("folder:f", UP, "big.raw", status=RowStatus.ACTIVE,
                     done_bytes=12 * mib, total_bytes=200 * mib)
    assert tr.cell_text(up, Column.SIZE) == "12.0 / 200.0 MiB"
    up.status, up.done_bytes = RowStatus.DONE, 200 * mib
    assert tr.cell_text(up, Column.SIZE) == "200 MiB"


def test_details_give_the_whole_error_of_the_selected_row() -> None:
    error = ("cannot write to /srv/inbox: Read-only file system; make the folder writable"
             " or choose another destination; retrying in 10 s")
    row = TransferRow("dest:d1", DOWN, "huge_run2.raw", status=RowStatus.WAITING, error=error,
                      place_detail="topic lab-data → /srv/inbox")
    details = tr.row_details(row)
    assert error in details
    assert "huge_run2.raw (download, topic lab-data → /srv/inbox)" in details
    assert "Retry tries it now" in details
    failed = TransferRow("dest:d1", DOWN, "x.bin", status=RowStatus.FAILED, error="bad hash\n"
                         "chunk 3 of 7")
    assert tr.row_details(failed) == "x.bin (download, dest:d1)\nFailed: bad hash\nchunk 3 of 7"


def test_paused_rows_read_paused() -> None:
    row = TransferRow("dest:d", DOWN, "a.bin", status=RowStatus.ACTIVE, rate=100.0, held=True)
    assert tr.status_text(row) == "Paused"
    assert tr.cell_text(row, Column.RATE) == ""
    assert tr.cell_text(row, Column.ETA) == ""


def test_plot_axis_helpers() -> None:
    mib = 1 << 20
    assert plot_mod.nice_axis(3.7 * mib) == (4 * mib, mib)
    assert plot_mod.nice_axis(0) == (mib, mib / 4)
    assert plot_mod.nice_axis(1020 * 1024) == (mib, mib / 4)  # not 1250 KiB
    top, step = plot_mod.nice_axis(123)
    assert top >= 123
    assert top / step <= 5
    assert plot_mod.axis_label(0, 4 * mib) == "0"
    assert plot_mod.axis_label(2.5 * mib, 4 * mib) == "2.5 MiB/s"
    assert plot_mod.axis_label(512, 1024) == "0.5 KiB/s"
    assert plot_mod.axis_label(500, 800) == "500 B/s"
    assert plot_mod.axis_label(0.1 * 3 * mib, mib) == "0.3 MiB/s"
    samples = [(100, 1, 2), (5, 0, 0), (399, 3, 4), (401, 9, 9)]
    assert plot_mod.window_samples(samples, now=400, window=300) == [(100, 1, 2), (399, 3, 4)]
    assert plot_mod.recent_rates([(1, 3, 0), (2, 6, 3)]) == (4.5, 1.5)
    assert "upload 4 B/s" in plot_mod.describe([(1, 3, 0), (2, 6, 3)])
