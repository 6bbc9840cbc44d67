"""The transfers view: live table, coalescing, filters, retry, plot, and history."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QModelIndex, QRegularExpression, QSortFilterProxyModel, Qt
from PySide6.QtGui import (
    QColor,
    QImage,
    QPalette,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from openmsi_gui.app import transfer_rows as tr
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.history import HistoryColumn
from openmsi_gui.app.history_export import CSV_HEADER
from openmsi_gui.app.transfer_rows import Column, FilterMode
from openmsi_gui.app.transfers import RowStatus, TransferRow
from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileWaiting,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.registry import HistoryRow, Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views import transfer_model as tm
from openmsi_gui.ui.views.history import HistoryView
from openmsi_gui.ui.views.throughput_plot import DOWN_COLOUR, UP_COLOUR, ThroughputPlot
from openmsi_gui.ui.views.transfers import TransfersView

UP, DOWN = Direction.UPLOAD, Direction.DOWNLOAD


def test_filter_pattern_agrees_with_row_matches() -> None:
    rows = [TransferRow("folder:abc", UP, "run/notes.txt", status=RowStatus.FAILED,
                        error="Message size too large\nsecond line"),
            TransferRow("dest:xyz", DOWN, "in/x.bin", status=RowStatus.FAILED,
                        error="hash mismatch"),
            TransferRow("folder:abc", UP, "run/scan.h5", status=RowStatus.ACTIVE),
            TransferRow("folder:abc", UP, "run/next(1).h5"),
            TransferRow("folder:abc", UP, "run/old.h5", status=RowStatus.DONE),
            TransferRow("folder:abc", UP, "run/Straße.h5", status=RowStatus.SKIPPED),
            TransferRow("dest:xyz", DOWN, "in/big.raw", status=RowStatus.WAITING,
                        error="Read-only file system"),
            TransferRow("dest:xyz", DOWN, "in/huge.raw", status=RowStatus.STALLED)]
    assert {mode: sum(tr.row_matches(row, mode) for row in rows) for mode in FilterMode} == {
        FilterMode.ALL: 8, FilterMode.ACTIVE: 4, FilterMode.PROBLEMS: 4}
    option = QRegularExpression.PatternOption.DotMatchesEverythingOption
    for mode in FilterMode:
        for search in ("", "  SIZE too ", "SECOND", "run/", "(1)", "receiving", "↓",
                       "strasse", "folder:abc", "nothing", ".*", "e\nsec"):
            regex = QRegularExpression(tm.filter_pattern(mode, search), option)
            assert regex.isValid()
            for row in rows:
                expected = tr.row_matches(row, mode, search)
                assert regex.match(tr.filter_text(row)).hasMatch() == expected, \
                    (mode, search, row.relpath)


# -- the live table ----------------------------------------------------------------------------


@pytest.fixture
def adapter(bus: EventBus) -> Iterator[EngineAdapter]:
    engine_adapter = EngineAdapter(bus, interval_ms=20)
    yield engine_adapter
    engine_adapter.close()


@pytest.fixture
def state(adapter: EngineAdapter, controller: AppController) -> Iterator[LiveState]:
    live = LiveState(adapter, controller)
    yield live
    live.deleteLater()  # and with it its tick timer


@pytest.fixture
def view(qtbot: QtBot, state: LiveState, controller: AppController,
         registry: Registry, tasks: Tasks) -> Iterator[TransfersView]:
    widget = TransfersView(state, controller, registry, tasks)
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    qtbot.waitSignal(widget.history.loaded, timeout=5000)
    return widget


def _rows_by_file(view: TransfersView) -> dict[str, dict[Column, str]]:
    """What the table shows (through the proxy), by file."""
    model = view.table.model()
    shown: dict[str, dict[Column, str]] = {}
    for r in range(model.rowCount()):
        # The progress cell shows a bar pixmap; its text is for screen readers.
        cells = {c: model.index(r, c).data(Qt.ItemDataRole.AccessibleTextRole)
                 or model.index(r, c).data() for c in Column}
        shown[cells[Column.FILE]] = cells
    return shown


def _publish_sample(bus: EventBus) -> None:
    bus.publish(FileDiscovered("folder:abc", UP, "run/scan.h5", 45_600_000))
    bus.publish(FileProgress("folder:abc", UP, "run/scan.h5", 12_300_000, 45_600_000, 3, 10))
    bus.publish(FileDiscovered("folder:abc", UP, "run/small.txt", 2_000))
    bus.publish(FileCompleted("folder:abc", UP, "run/small.txt", 2_000, "cd" * 64, 0.5))
    bus.publish(FileFailed("folder:abc", UP, "run/notes.txt", "Message size too large\ndetail"))
    bus.publish(FileFailed("dest:xyz", DOWN, "in/corrupt.bin", "hash mismatch"))
    bus.publish(FileSkipped("folder:abc", UP, "run/old.h5", "already sent"))


def test_table_shows_status_progress_and_errors(qtbot: QtBot, view: TransfersView,
                                                bus: EventBus) -> None:
    _publish_sample(bus)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 5, timeout=3000)
    rows = _rows_by_file(view)
    scan = rows["run/scan.h5"]
    assert scan[Column.DIRECTION] == "↑ Upload"
    assert scan[Column.STATUS] == "Sending"
    assert scan[Column.PROGRESS] == "26%"
    assert scan[Column.SIZE] == "11.7 / 43.5 MiB"
    assert scan[Column.CHUNKS] == "3/10"
    assert rows["run/small.txt"][Column.STATUS] == "Sent"
    assert rows["run/small.txt"][Column.PROGRESS] == "100%"
    assert rows["run/small.txt"][Column.RATE] == "3.9 KiB/s"
    assert rows["run/notes.txt"][Column.STATUS] == "Failed"
    assert rows["run/notes.txt"][Column.ERROR] == "Message size too large"
    assert rows["in/corrupt.bin"][Column.DIRECTION] == "↓ Download"
    assert rows["run/old.h5"][Column.STATUS] == "Skipped"
    assert rows["run/old.h5"][Column.PROGRESS] == ""
    # Newest first, with a status icon beside each status text.
    model = view.table.model()
    assert model.index(0, Column.FILE).data() == "run/old.h5"
    for r in range(model.rowCount()):
        icon = model.index(r, Column.STATUS).data(Qt.ItemDataRole.DecorationRole)
        assert not icon.isNull()
    failed = next(r for r in range(model.rowCount())
                  if model.index(r, Column.FILE).data() == "run/notes.txt")
    assert model.index(failed, Column.ERROR).data(Qt.ItemDataRole.ToolTipRole) == (
        "Message size too large\ndetail")
    assert model.index(failed, Column.PROGRESS).data(tm.FRACTION_ROLE) == 0.0
    # The progress bar is a pixmap made by the model (the view paints it without Python).
    scan_row = next(r for r in range(model.rowCount())
                    if model.index(r, Column.FILE).data() == "run/scan.h5")
    bar = model.index(scan_row, Column.PROGRESS).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(bar, QPixmap)
    assert not bar.isNull()
    assert bar.cacheKey() == view.model.bars.pixmap(26).cacheKey()
    skipped = next(r for r in range(model.rowCount())
                   if model.index(r, Column.FILE).data() == "run/old.h5")
    assert model.index(skipped, Column.PROGRESS).data(Qt.ItemDataRole.DecorationRole) is None
    assert model.index(scan_row, Column.PROGRESS).data(Qt.ItemDataRole.ToolTipRole) == (
        "26% done")
    assert "5 done" not in view.summary.text()
    state_summary = view.state.book.summary()
    assert (state_summary.failed, state_summary.done) == (2, 1)
    pixmap = view.table.viewport().grab()
    assert not pixmap.isNull()


def test_progress_is_coalesced(qtbot: QtBot, view: TransfersView, bus: EventBus) -> None:
    bus.publish(FileDiscovered("folder:abc", UP, "big.bin", 1000 * 1000))
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=3000)
    changes: list[tuple[int, int]] = []
    view.model.dataChanged.connect(
        lambda first, last, _roles: changes.append((first.row(), last.row())))

    def send() -> None:
        for i in range(1, 1001):
            bus.publish(FileProgress("folder:abc", UP, "big.bin", i * 1000, 1000 * 1000, i,
                                     1000))
            time.sleep(0.001)

    started = time.monotonic()
    sender = threading.Thread(target=send, name="test-progress-sender")
    sender.start()
    try:
        qtbot.waitUntil(lambda: view.model.index(0, Column.CHUNKS).data() == "1000/1000",
                        timeout=10_000)
    finally:
        sender.join()
    elapsed = time.monotonic() - started
    assert changes
    assert all(change == (0, 0) for change in changes)
    # At most one flush per 100 ms (plus the last one), and far fewer than the events.
    assert len(changes) <= elapsed * 10 + 2
    assert len(changes) <= 20 * max(1.0, elapsed)
    assert len(changes) < 100


def test_painting_the_table_calls_no_python(qtbot: QtBot, view: TransfersView,
                                            bus: EventBus) -> None:
    # No Python model/proxy methods the view calls while painting, and no Python delegate.
    for name in ("data", "flags", "rowCount", "columnCount", "headerData", "index"):
        assert getattr(tm.TransferTableModel, name) is getattr(QStandardItemModel, name), name
    for name in ("data", "flags", "filterAcceptsRow", "lessThan", "mapToSource", "index"):
        assert getattr(tm.TransferFilterProxy, name) is getattr(QSortFilterProxyModel, name)
    assert view.table.itemDelegateForColumn(Column.PROGRESS) is None
    assert not view.table.editTriggers()
    _publish_sample(bus)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 5, timeout=3000)
    model = view.table.model()
    assert model.index(0, Column.FILE).data(tm.FILTER_ROLE).startswith("-\x1frun/old.h5")
    assert model.headerData(Column.SIZE, Qt.Orientation.Horizontal) == "Size"
    # Cells are made by C++: no Python wrappers that could go stale when rows are removed.
    assert not [w for w in shiboken6.getAllValidWrappers() if isinstance(w, QStandardItem)]


def _highlight_pixels(view: TransfersView, image: QImage, relpath: str) -> int:
    model = view.table.model()
    row = next(r for r in range(model.rowCount())
               if model.index(r, Column.FILE).data() == relpath)
    rect = view.table.visualRect(model.index(row, Column.PROGRESS))
    colour = view.table.palette().color(QPalette.ColorRole.Highlight)
    ratio = image.devicePixelRatio()
    count = 0
    for y in range(rect.top(), rect.bottom()):
        for x in range(rect.left(), rect.right()):
            pixel = image.pixelColor(round(x * ratio), round(y * ratio))
            if (abs(pixel.red() - colour.red()) < 30 and abs(pixel.green() - colour.green()) < 30
                    and abs(pixel.blue() - colour.blue()) < 30):
                count += 1
    return count


def test_progress_bars_render_and_follow_the_column_width(qtbot: QtBot, view: TransfersView,
                                                          bus: EventBus) -> None:
    _publish_sample(bus)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 5, timeout=3000)
    image = view.table.viewport().grab().toImage()
    done = _highlight_pixels(view, image, "run/small.txt")
    part = _highlight_pixels(view, image, "run/scan.h5")
    assert done > 200
    assert 0.1 * done < part < 0.5 * done  # 26 %
    assert _highlight_pixels(view, image, "run/notes.txt") < 0.05 * done  # failed at 0 %
    width = view.model.bars.pixmap(100).width()
    changes: list[int] = []
    view.model.dataChanged.connect(lambda first, _last, _roles: changes.append(first.row()))
    view.table.setColumnWidth(Column.PROGRESS, view.table.columnWidth(Column.PROGRESS) + 80)
    assert view.model.bars.pixmap(100).width() >= width + 72
    assert changes  # every bar was redrawn at the new width
    bar = view.table.model().index(0, Column.PROGRESS)
    assert bar.data(Qt.ItemDataRole.DecorationRole) is None  # skipped: no bar
    assert view.model.bars.pixmap(26) is view.model.bars.pixmap(26)  # cached


def test_thousands_of_rows_and_trimmed_rows(qtbot: QtBot, view: TransfersView,
                                            bus: EventBus) -> None:
    inserts: list[int] = []
    view.model.rowsInserted.connect(lambda _p, first, last: inserts.append(last - first + 1))
    for i in range(2000):
        bus.publish(FileDiscovered("folder:abc", UP, f"many/{i:05d}.dat", i))
    qtbot.waitUntil(lambda: view.model.rowCount() == 2000, timeout=5000)
    assert sum(inserts) == 2000
    # Inserted in a few batches (a timed flush leaves the rest for a prompt follow-up).
    assert len(inserts) <= 100
    assert view.model.index(0, Column.FILE).data() == "many/01999.dat"

    # The book keeps at most max_rows finished rows; the model follows it. Skipped rows are
    # finished too and, unlike completions, make LiveState emit no per-file signal: PySide6
    # 6.12.0's SignalInstance.emit() drops a reference to True on every call, which aborts
    # Python 3.11 after a few thousand emits.
    view.state.book.max_rows = 100
    for i in range(2000):
        bus.publish(FileSkipped("folder:abc", UP, f"many/{i:05d}.dat", "already sent"))
    bus.publish(FileDiscovered("folder:abc", UP, "trigger.dat", 1))  # trims on a new row
    qtbot.waitUntil(lambda: view.model.rowCount() == 100, timeout=5000)
    shown = {view.model.row_at(r).key for r in range(view.model.rowCount())}
    assert shown == set(view.state.book.rows)
    assert view.model.index(0, Column.FILE).data() == "trigger.dat"
    assert all(view.model.row_at(r).status is RowStatus.SKIPPED
               for r in range(1, view.model.rowCount()))


def test_a_new_generation_replaces_the_row(qtbot: QtBot, view: TransfersView,
                                           bus: EventBus) -> None:
    bus.publish(FileDiscovered("folder:abc", UP, "f.bin", 10))
    bus.publish(FileCompleted("folder:abc", UP, "f.bin", 10, "00", 1.0))
    qtbot.waitUntil(lambda: view.model.index(0, Column.STATUS).data() == "Sent", timeout=3000)
    bus.publish(FileDiscovered("folder:abc", UP, "f.bin", 20))
    qtbot.waitUntil(lambda: view.model.index(0, Column.STATUS).data() == "Queued",
                    timeout=3000)
    assert view.model.rowCount() == 1
    assert view.model.index(0, Column.SIZE).data() == "0 / 20 B"


def test_filter_and_search(qtbot: QtBot, view: TransfersView, bus: EventBus) -> None:
    _publish_sample(bus)
    bus.publish(FileWaiting("dest:xyz", DOWN, "in/big.raw", "No space left on device"))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 6, timeout=3000)
    # Problems: failed and waiting rows together (Failed alone hid the waiting ones).
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.PROBLEMS))
    assert set(_rows_by_file(view)) == {"run/notes.txt", "in/corrupt.bin", "in/big.raw"}
    qtbot.keyClicks(view.search, "space")
    assert set(_rows_by_file(view)) == {"in/big.raw"}
    view.search.clear()
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.ACTIVE))
    assert set(_rows_by_file(view)) == {"run/scan.h5", "in/big.raw"}
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.ALL))
    qtbot.keyClicks(view.search, "MISMATCH")
    assert set(_rows_by_file(view)) == {"in/corrupt.bin"}
    view.search.clear()
    assert len(_rows_by_file(view)) == 6
    # Rows that change status leave a filter they no longer match.
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.ACTIVE))
    bus.publish(FileCompleted("folder:abc", UP, "run/scan.h5", 45_600_000, "00", 3.0))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 1, timeout=3000)
    assert set(_rows_by_file(view)) == {"in/big.raw"}


def test_sorting_by_size_is_numeric(qtbot: QtBot, view: TransfersView, bus: EventBus) -> None:
    for name, size in (("nine", 9), ("hundred", 100), ("ten", 10)):
        bus.publish(FileDiscovered("folder:abc", UP, name, size))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 3, timeout=3000)
    view.table.sortByColumn(Column.SIZE, Qt.SortOrder.AscendingOrder)
    model = view.table.model()
    assert [model.index(r, Column.FILE).data() for r in range(3)] == ["nine", "ten", "hundred"]


def _select_file(view: TransfersView, relpath: str) -> None:
    model = view.table.model()
    row = next(r for r in range(model.rowCount())
               if model.index(r, Column.FILE).data() == relpath)
    view.table.selectRow(row)


def test_retry_sends_a_failed_upload_again(qtbot: QtBot, view: TransfersView, bus: EventBus,
                                           controller: AppController,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def retry_upload(folder_id: str, relpath: str) -> Future[None]:
        calls.append((folder_id, relpath))
        future: Future[None] = Future()
        future.set_result(None)
        return future

    monkeypatch.setattr(controller, "retry_upload", retry_upload)
    _publish_sample(bus)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 5, timeout=3000)
    assert not view.retry_button.isEnabled()
    _select_file(view, "in/corrupt.bin")
    assert not view.retry_button.isEnabled()
    assert "sending computer" in view.retry_button.toolTip()
    assert "sending computer" in view.hint.text()
    assert not view.hint.isHidden()
    _select_file(view, "run/notes.txt")
    assert view.retry_button.isEnabled()
    assert view.hint.isHidden()
    qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
    assert calls == [("abc", "run/notes.txt")]
    qtbot.waitUntil(lambda: view.message.text() == "Queued run/notes.txt to be sent again.",
                    timeout=3000)


def test_retry_tries_a_waiting_download_now(qtbot: QtBot, view: TransfersView, bus: EventBus,
                                           controller: AppController,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab freed disk space: Retry need not wait for the next attempt."""
    calls: list[str] = []

    def retry_waiting(job: str) -> Future[None]:
        calls.append(job)
        future: Future[None] = Future()
        future.set_result(None)
        return future

    monkeypatch.setattr(controller, "retry_waiting", retry_waiting)
    bus.publish(FileWaiting("dest:xyz", DOWN, "big.bin", "cannot write to /data: No space left "
                            "on device; free some space there; retrying in 60 s"))
    bus.publish(FileWaiting("dest:xyz", DOWN, "(waiting for keys)", "3 encrypted messages"))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 2, timeout=3000)
    view.table.selectAll()
    assert view.retry_button.isEnabled()
    status = view.table.model().index(0, Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert "Retry tries it now" in status
    qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
    assert calls == ["dest:xyz"]  # once per destination
    qtbot.waitUntil(lambda: "try its waiting downloads now" in view.message.text(),
                    timeout=3000)


def test_retry_reports_a_failure(qtbot: QtBot, view: TransfersView, bus: EventBus,
                                 controller: AppController) -> None:
    # The real controller: no such folder is running, so the retry fails with a reason.
    bus.publish(FileFailed("folder:gone", UP, "x.bin", "timeout"))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 1, timeout=3000)
    view.table.selectRow(0)
    view.retry_button.click()
    qtbot.waitUntil(lambda: "Could not send x.bin again" in view.message.text(), timeout=5000)
    assert "not running" in view.message.text()


def test_retry_button_follows_status_changes_of_the_selection(
        qtbot: QtBot, view: TransfersView, bus: EventBus) -> None:
    bus.publish(FileProgress("folder:abc", UP, "f.bin", 1, 10, 1, 10))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 1, timeout=3000)
    view.table.selectRow(0)
    assert not view.retry_button.isEnabled()
    bus.publish(FileFailed("folder:abc", UP, "f.bin", "boom"))
    qtbot.waitUntil(view.retry_button.isEnabled, timeout=3000)


def test_accessible_names_and_keyboard(view: TransfersView) -> None:
    for widget in (view, view.table, view.filter_combo, view.search, view.retry_button,
                   view.plot, view.summary, view.tabs, view.history.table,
                   view.history.search):
        assert widget.accessibleName(), widget
    for button in (view.retry_button, view.history.refresh_button, view.history.export_button):
        assert "&" in button.text()
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert "&" in view.tabs.tabText(0)
    assert "&" in view.tabs.tabText(1)


def _colour_pixels(image: QImage, colour: QColor) -> int:
    count = 0
    for y in range(0, image.height()):
        for x in range(0, image.width(), 2):
            pixel = image.pixelColor(x, y)
            if (abs(pixel.red() - colour.red()) < 24 and abs(pixel.green() - colour.green()) < 24
                    and abs(pixel.blue() - colour.blue()) < 24):
                count += 1
    return count


def test_plot_draws_both_series(qtbot: QtBot, view: TransfersView) -> None:
    now = int(time.time())
    for s in range(now - 200, now):
        view.state.book.throughput.append((s, 2_000_000 + (s % 7) * 100_000, 500_000))
    view.state.tick.emit()
    assert "upload 2." in view.plot.accessibleDescription()
    view.plot.resize(600, 180)
    image = view.plot.grab().toImage()
    assert not image.isNull()
    assert _colour_pixels(image, UP_COLOUR) > 100
    assert _colour_pixels(image, DOWN_COLOUR) > 50


def test_plot_without_data(qtbot: QtBot, state: LiveState) -> None:
    plot = ThroughputPlot(state)
    qtbot.addWidget(plot)
    plot.resize(400, 150)
    image = plot.grab().toImage()
    assert not image.isNull()
    assert _colour_pixels(image, UP_COLOUR) < 200  # only the legend sample
    plot.resize(10, 10)
    assert not plot.grab().isNull()


# -- history -----------------------------------------------------------------------------------


def _fill_registry(registry: Registry) -> None:
    for i, (relpath, size, error) in enumerate((("run/nine.bin", 9, ""),
                                                ("run/hundred.bin", 100, ""),
                                                ("run/ten.bin", 10, "Broker: timed out"))):
        upload_id, _ = registry.start_upload("topic-a", "/data", relpath, size, i,
                                             bytes([i]) * 64, 1024, 1)
        registry.finish_upload(upload_id, error)
    download_id = registry.start_download("topic-b", "group", "/dest", "in/received.bin",
                                          b"\x09" * 64, 1, 0.0, "/dest/.tmp")
    registry.finish_download(download_id, "done", 5000)
    registry.commit()


def _history_paths(history: HistoryView) -> list[str]:
    return [row.relpath for row in history.visible_rows()]


@pytest.fixture
def history(qtbot: QtBot, registry: Registry, state: LiveState, tasks: Tasks) -> HistoryView:
    _fill_registry(registry)
    widget = HistoryView(registry, tasks, state)
    qtbot.addWidget(widget)
    widget.resize(900, 400)
    with qtbot.waitSignal(widget.loaded, timeout=5000):
        widget.show()
    return widget


def test_history_shows_the_registry(history: HistoryView) -> None:
    assert history.model.rowCount() == 4
    assert set(_history_paths(history)) == {"run/nine.bin", "run/hundred.bin", "run/ten.bin",
                                            "in/received.bin"}
    model = history.table.model()
    texts = {model.index(r, HistoryColumn.PATH).data():
             [model.index(r, c).data() for c in HistoryColumn] for r in range(4)}
    assert texts["run/ten.bin"][HistoryColumn.STATUS] == "Failed"
    assert texts["run/ten.bin"][HistoryColumn.ERROR] == "Broker: timed out"
    assert texts["run/ten.bin"][HistoryColumn.COMPLETED] == ""
    assert texts["in/received.bin"][HistoryColumn.DIRECTION] == "↓ Download"
    assert texts["in/received.bin"][HistoryColumn.SIZE] == "4.9 KiB"
    assert texts["run/hundred.bin"][HistoryColumn.STATUS] == "Done"
    assert history.count_label.text() == "4 transfers"


def test_history_search_is_case_insensitive_over_all_columns(
        qtbot: QtBot, history: HistoryView) -> None:
    qtbot.keyClicks(history.search, "TIMED OUT")
    assert _history_paths(history) == ["run/ten.bin"]
    assert history.count_label.text() == "1 of 4 transfers"
    history.search.setText("topic-b")
    assert _history_paths(history) == ["in/received.bin"]
    history.search.setText("0909090909")  # inside the SHA-512
    assert _history_paths(history) == ["in/received.bin"]
    history.search.clear()
    assert len(_history_paths(history)) == 4


def test_history_sorts_sizes_as_numbers(history: HistoryView) -> None:
    history.table.sortByColumn(HistoryColumn.SIZE, Qt.SortOrder.AscendingOrder)
    assert [r.size for r in history.visible_rows()] == [9, 10, 100, 5000]
    history.table.sortByColumn(HistoryColumn.SIZE, Qt.SortOrder.DescendingOrder)
    assert [r.size for r in history.visible_rows()] == [5000, 100, 10, 9]
    history.table.sortByColumn(HistoryColumn.PATH, Qt.SortOrder.AscendingOrder)
    assert _history_paths(history)[0] == "in/received.bin"


def test_history_refresh_keeps_sort_and_selection(qtbot: QtBot, history: HistoryView,
                                                  registry: Registry) -> None:
    history.table.sortByColumn(HistoryColumn.SIZE, Qt.SortOrder.AscendingOrder)
    history.table.selectRow(2)  # the 100-byte file
    upload_id, _ = registry.start_upload("topic-a", "/data", "run/fifty.bin", 50, 9,
                                         b"\x05" * 64, 1024, 1)
    registry.finish_upload(upload_id)
    registry.commit()
    with qtbot.waitSignal(history.loaded, timeout=5000):
        history.refresh_button.click()
    assert [r.size for r in history.visible_rows()] == [9, 10, 50, 100, 5000]
    selected = history.table.selectionModel().selectedRows()
    assert [index.row() for index in selected] == [3]


def test_history_refreshes_when_files_finish(qtbot: QtBot, history: HistoryView, registry: Registry,
                                             bus: EventBus) -> None:
    loads: list[int] = []
    history.loaded.connect(loads.append)
    upload_id, _ = registry.start_upload("topic-a", "/data", "run/new.bin", 1, 7, b"\x07" * 64,
                                         1024, 1)
    registry.finish_upload(upload_id)
    for i in range(20):  # a burst of completions: one refresh
        bus.publish(FileCompleted("folder:abc", UP, f"run/new{i}.bin", 1, "00", 0.1))
    qtbot.waitUntil(lambda: history.model.rowCount() == 5, timeout=5000)
    qtbot.wait(1300)
    assert len(loads) == 1


def test_history_export_csv(qtbot: QtBot, history: HistoryView, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "export"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (str(target),
                                                              "CSV files (*.csv)")))
    history.table.sortByColumn(HistoryColumn.SIZE, Qt.SortOrder.AscendingOrder)
    with qtbot.waitSignal(history.exported, timeout=5000) as blocker:
        qtbot.mouseClick(history.export_button, Qt.MouseButton.LeftButton)
    written = tmp_path / "export.csv"
    assert blocker.args == [str(written), 4]
    with written.open(encoding="utf-8-sig", newline="") as stream:
        lines = list(csv.reader(stream))
    assert lines[0] == list(CSV_HEADER)
    assert [line[3] for line in lines[1:]] == ["9", "10", "100", "5000"]
    assert lines[3][5] == "Broker: timed out" or lines[2][5] == "Broker: timed out"
    assert "Exported 4 transfers" in history.message.text()
    # Cancelling the dialog writes nothing.
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: ("", "")))
    history.export_button.click()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv") == ["export.csv"]


def test_history_export_reports_errors(qtbot: QtBot, history: HistoryView,
                                       tmp_path: Path) -> None:
    with qtbot.waitSignal(history.failed, timeout=5000):
        history.export_to(tmp_path / "missing-folder" / "x.csv")
    assert "Could not export" in history.message.text()


def test_history_read_errors_are_shown(qtbot: QtBot, history: HistoryView,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(limit: int = 0) -> list[HistoryRow]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(history.registry, "history", broken)
    with qtbot.waitSignal(history.failed, timeout=5000):
        history.refresh()
    assert history.message.text() == "Could not read the history: disk on fire"
    assert history.refresh_button.isEnabled()
    assert history.model.rowCount() == 4  # the last good rows stay


def test_transfers_view_has_a_history_tab(view: TransfersView) -> None:
    assert view.tabs.widget(1) is view.history
    assert isinstance(view.history.table.model().index(0, 0), QModelIndex)


def test_history_sorting_keeps_the_selection_on_its_row(history: HistoryView) -> None:
    history.table.sortByColumn(HistoryColumn.SIZE, Qt.SortOrder.AscendingOrder)
    history.table.selectRow(0)  # the 9-byte file
    history.table.sortByColumn(HistoryColumn.SIZE, Qt.SortOrder.DescendingOrder)
    selected = history.table.selectionModel().selectedRows()
    assert [index.row() for index in selected] == [3]
    assert history.visible_rows()[3].size == 9


def test_rows_already_in_the_book_are_shown(qtbot: QtBot, state: LiveState,
                                            controller: AppController,
                                            registry: Registry, tasks: Tasks) -> None:
    state.book.apply(FileFailed("folder:abc", UP, "early.bin", "too early"))
    widget = TransfersView(state, controller, registry, tasks)
    qtbot.addWidget(widget)
    assert widget.table.model().rowCount() == 1
    assert widget.table.model().index(0, Column.ERROR).data() == "too early"


def test_ctrl_f_goes_to_the_search_box(qtbot: QtBot, view: TransfersView) -> None:
    view.activateWindow()
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(view.search.hasFocus, timeout=2000)
    view.tabs.setCurrentWidget(view.history)
    view.history.table.setFocus()
    qtbot.keyClick(view.history.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(view.history.search.hasFocus, timeout=2000)


def test_rows_of_a_paused_job_read_paused(qtbot: QtBot, view: TransfersView,
                                          bus: EventBus) -> None:
    """Not "Paused — paused" in the status bar while rows say "Receiving, 0:02 left"."""
    start = time.time()
    bus.publish(FileProgress("dest:xyz", DOWN, "big.raw", 1 << 20, 0, 1, 100, at=start - 1))
    bus.publish(FileProgress("dest:xyz", DOWN, "big.raw", 2 << 20, 0, 2, 100, at=start))
    qtbot.waitUntil(lambda: view.model.index(0, Column.STATUS).data() == "Receiving",
                    timeout=3000)
    assert view.model.index(0, Column.ETA).data()
    assert view.model.index(0, Column.SIZE).data() == "2.0 / ~100.0 MiB"
    bus.publish(JobState("dest:xyz", JobStatus.PAUSED))
    qtbot.waitUntil(lambda: view.model.index(0, Column.STATUS).data() == "Paused",
                    timeout=3000)
    assert view.model.index(0, Column.ETA).data() == ""
    assert view.model.index(0, Column.RATE).data() == ""
    bus.publish(JobState("dest:xyz", JobStatus.RUNNING))
    qtbot.waitUntil(lambda: view.model.index(0, Column.STATUS).data() == "Receiving",
                    timeout=3000)


def test_the_selected_rows_error_shows_in_full_under_the_table(
        qtbot: QtBot, view: TransfersView, bus: EventBus) -> None:
    """It was cut to "cannot write t…" in a column off-screen."""
    _publish_sample(bus)
    error = ("cannot write to /srv/instrument-archive/2026/inbox: Read-only file system; make "
             "the folder writable again or choose another destination; retrying in 10 s")
    bus.publish(FileWaiting("dest:xyz", DOWN, "huge_run2.raw", error))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 6, timeout=3000)
    assert view.details.isHidden()
    _select_file(view, "huge_run2.raw")
    assert view.details.isVisible()
    assert error in view.details.text()
    assert not view.dismiss_button.isEnabled()  # waiting: it is not over
    _select_file(view, "run/notes.txt")
    assert "Failed: Message size too large\ndetail" in view.details.text()
    assert view.dismiss_button.isEnabled()
    qtbot.mouseClick(view.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 5, timeout=3000)
    assert "run/notes.txt" not in _rows_by_file(view)
    assert ("folder:abc", UP, "run/notes.txt") not in view.state.book.rows
    _select_file(view, "run/small.txt")
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 4, timeout=3000)
    view.table.clearSelection()
    assert view.details.isHidden()


def test_progress_bars_follow_a_theme_change(qtbot: QtBot, view: TransfersView,
                                             bus: EventBus) -> None:
    """The OS turning dark (or light) redraws the bars in the new colours, not the old ones."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from openmsi_gui.ui.theme import apply_theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    _publish_sample(bus)
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 5, timeout=3000)
    base = QPalette.ColorRole.Base
    try:
        for theme in ("dark", "light", "dark"):
            apply_theme(app, theme)
            app.processEvents()
            assert view.model.bars.palette is not None
            assert view.model.bars.palette.color(base) == app.palette().color(base), theme
    finally:
        apply_theme(app, "light")
