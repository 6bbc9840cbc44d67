"""Rows of the transfers table and the throughput plot's numbers, without Qt."""

from __future__ import annotations

from openmsi_gui.app import throughput as plot_mod
from openmsi_gui.app import transfer_rows as tr
from openmsi_gui.app.transfer_rows import Column, FilterMode, selection_hint, summary_text
from openmsi_gui.app.transfers import RowStatus, Summary, TransferRow
from openmsi_gui.engine.events import Direction

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
    rows = [failed_up, failed_down, active, queued, done]
    assert [r for r in rows if tr.row_matches(r, FilterMode.FAILED)] == [failed_up, failed_down]
    assert [r for r in rows if tr.row_matches(r, FilterMode.ACTIVE)] == [active, queued]
    assert all(tr.row_matches(r, FilterMode.ALL) for r in rows)
    assert [r for r in rows if tr.row_matches(r, FilterMode.ALL, "  SIZE too ")] == [failed_up]
    assert [r for r in rows if tr.row_matches(r, FilterMode.ALL, "dest:")] == [failed_down]
    assert [r for r in rows if tr.row_matches(r, FilterMode.ALL, "download")] == [failed_down]
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
    assert summary_text(Summary(2, 1, 5, 4 * 1024 * 1024, 0.0)) == (
        "2 moving, 1 failed, 5 done — up 4 MiB/s, down 0 B/s")
    assert summary_text(Summary(0, 0, 0, 0.0, 0.0, waiting=1)) == (
        "0 moving, 1 waiting, 0 failed, 0 done — up 0 B/s, down 0 B/s")


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
