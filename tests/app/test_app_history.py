"""The transfer history without Qt: cells, sorting, search, and the one CSV format."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from openmsi_gui.app import history
from openmsi_gui.app.history import HistoryColumn
from openmsi_gui.app.history_export import CSV_HEADER, export_history, iso_utc, write_history
from openmsi_gui.engine.registry import HistoryRow, Registry


def _history_row(relpath: str, size: int, status: str = "done", error: str = "",
                 started: float = 1_700_000_000.0) -> HistoryRow:
    return HistoryRow("upload", "topic-a", relpath, size, status, error, started,
                      started + 1 if status == "done" else None, "ab" * 64)


ROWS = [_history_row("b/ten.bin", 10, started=2.0),
        _history_row("a/nine.bin", 9, "failed", "Broker Timeout", started=3.0),
        _history_row("c/hundred.bin", 100, started=1.0)]


def test_history_cells_sorting_and_search() -> None:
    entries = history.make_entries(ROWS)
    assert [e.row.size for e in history.sort_entries(entries, HistoryColumn.SIZE,
                                                     False)] == [9, 10, 100]
    assert [e.row.size for e in history.sort_entries(entries, HistoryColumn.SIZE,
                                                     True)] == [100, 10, 9]
    assert [e.row.size for e in history.sort_entries(entries, -1, False)] == [9, 10, 100]
    assert [e.row.relpath for e in entries if history.entry_matches(e, "broker timeout")] \
        == ["a/nine.bin"]
    assert [e.row.relpath for e in entries if history.entry_matches(e, "FAILED")] \
        == ["a/nine.bin"]
    assert all(history.entry_matches(e, "ABAB") for e in entries)  # the full hash
    assert all(history.entry_matches(e, " ") for e in entries)
    assert history.history_cell(ROWS[0], HistoryColumn.SHA512) == "abababababababab…"
    assert history.history_cell(ROWS[2], HistoryColumn.SIZE) == "100 B"
    assert history.history_status_text("superseded") == "Superseded"
    assert history.format_time(None) == ""


def test_csv_export_has_full_values_and_utc_times(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    assert export_history(path, ROWS) == 3
    with path.open(encoding="utf-8-sig", newline="") as stream:
        lines = list(csv.reader(stream))
    assert lines[0] == list(CSV_HEADER)
    assert lines[2][:6] == ["upload", "topic-a", "a/nine.bin", "9", "failed", "Broker Timeout"]
    assert lines[2][7] == ""  # never completed
    assert lines[1][6] == iso_utc(2.0) == "1970-01-01T00:00:02+00:00"  # ISO 8601, UTC
    assert lines[1][8] == "ab" * 64
    assert iso_utc(0.0) == ""  # never set
    assert lines[0][3] == "size"  # the name `openmsi history` always used
    assert lines[1][9:12] == ["", "", ""]  # nothing done after delivery
    assert lines[1][12] == ""  # no information sent with it


def test_the_cli_and_the_gui_export_write_the_same_csv(tmp_path: Path) -> None:
    data = tmp_path / "state"
    data.mkdir()
    registry = Registry(data / "registry.sqlite3")
    sent, _ = registry.start_upload("raw", "/data", "run/scan, 1.tif", 4096, 1, b"\xab" * 64,
                                    1024, 4)
    registry.finish_upload(sent, "")
    failed, _ = registry.start_upload("raw", "/data", "run/bad.tif", 10, 1, b"\xcd" * 64,
                                      1024, 1)
    registry.finish_upload(failed, "broker: timed out")
    rows = registry.history()
    registry.close()
    result = subprocess.run([sys.executable, "-m", "openmsi_gui", "--data-dir", str(data),
                             "history"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    gui = io.StringIO()
    assert write_history(gui, rows) == 2
    assert result.stdout.splitlines() == gui.getvalue().splitlines()
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0] == list(CSV_HEADER)
    assert sorted(line[2] for line in lines[1:]) == ["run/bad.tif", "run/scan, 1.tif"]
    assert all(line[6].endswith("+00:00") for line in lines[1:])


def test_sizes_read_received_over_total_not_zero(tmp_path: Path) -> None:
    """A download still receiving (or failed) showed "0 B": its size is known once done."""
    registry = Registry(tmp_path / "registry.sqlite3")
    partial = registry.start_download("raw", "g", "/in", "big.raw", b"\x01" * 64, 10, 0.0,
                                      "/in/.partial")
    registry.store_chunks([(partial, i, i * 1024, 1024) for i in range(3)])
    done = registry.start_download("raw", "g", "/in", "small.txt", b"\x02" * 64, 1, 0.0,
                                   "/in/.small")
    registry.store_chunk(done, 0, 0, 700)
    registry.finish_download(done, "done", 700)
    sending, _ = registry.start_upload("raw", "/data", "up.raw", 4000, 1, b"\x03" * 64, 1024, 4)
    registry.ack_chunks(sending, [0, 1])
    refused = registry.start_download("raw", "g", "/in", "CON.txt", b"\x04" * 64, 1, 0.0, "")
    registry.finish_download(refused, "failed", error="unsafe file name")
    rows = {row.relpath: row for row in registry.history()}
    registry.close()
    cell = {name: history.history_cell(row, HistoryColumn.SIZE) for name, row in rows.items()}
    assert cell == {"big.raw": "3.0 / ~10.0 KiB", "small.txt": "700 B",
                    "up.raw": "2.0 / 3.9 KiB", "CON.txt": ""}
    assert history.history_tooltip(rows["big.raw"], HistoryColumn.SIZE) == (
        "3,072 of about 10,240 bytes")
    assert history.history_tooltip(rows["up.raw"], HistoryColumn.SIZE) == "2,048 of 4,000 bytes"
    assert history.history_tooltip(rows["CON.txt"], HistoryColumn.SIZE) is None
    assert history.history_sort_value(rows["big.raw"], HistoryColumn.SIZE) == 10_240


def test_history_to_a_terminal_shows_names_from_messages_escaped(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.sqlite3")
    odd = registry.start_download("raw", "g", "/in", "c1\x9b31m\u202e.txt", b"\x03" * 64, 1,
                                  0.0, "/in/.odd")
    registry.finish_download(odd, "failed", error="line one\nline two \x1b[2J")
    rows = registry.history()
    registry.close()
    exact, shown = io.StringIO(), io.StringIO()
    write_history(exact, rows)
    write_history(shown, rows, for_terminal=True)
    assert "c1\x9b31m\u202e.txt" in exact.getvalue()  # a file gets the exact name
    (record,) = list(csv.reader(io.StringIO(shown.getvalue())))[1:]
    assert record[2] == "c1\\x9b31m\\u202e.txt"
    assert record[5] == "line one\\nline two \\x1b[2J"
    assert shown.getvalue().isascii()


def test_a_file_moved_or_deleted_after_delivery_says_so(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.sqlite3")
    moved, _ = registry.start_upload("raw", "/data", "a.tif", 10, 1, b"\x01" * 64, 1024, 1)
    registry.finish_upload(moved)
    deleted, _ = registry.start_upload("raw", "/data", "b.tif", 10, 1, b"\x02" * 64, 1024, 1)
    registry.finish_upload(deleted)
    registry.database.write(lambda cur: cur.executemany(
        "UPDATE uploads SET after_delivery=?, after_delivery_at=?, after_delivery_to=? "
        "WHERE id=?", [("moved", 5.0, "/srv/done/a.tif", moved), ("deleted", 6.0, "", deleted)]))
    rows = {row.relpath: row for row in registry.history()}
    registry.close()
    assert history.history_cell(rows["a.tif"], HistoryColumn.STATUS) == "Done, moved to archive"
    assert history.history_cell(rows["b.tif"], HistoryColumn.STATUS) == "Done, deleted"
    tip = history.history_tooltip(rows["a.tif"], HistoryColumn.STATUS)
    assert tip is not None
    assert tip.startswith("Moved to /srv/done/a.tif on ")
    out = io.StringIO()
    write_history(out, [rows["a.tif"]])
    record = list(csv.reader(io.StringIO(out.getvalue())))[1]
    assert record[9:12] == ["moved", iso_utc(5.0), "/srv/done/a.tif"]
