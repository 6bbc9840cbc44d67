"""Processing in the transfers view: the state words, the reason and output, Retry processing."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.processing_rows import Processing
from openmsi_gui.app.transfer_rows import Column, FilterMode
from openmsi_gui.engine.events import Direction, EventBus, FileCompleted, FileProcessed
from openmsi_gui.engine.processing.api import ProcessingState
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.transfers import TransfersView

JOB = "dest:d1"
FILES = ("S001/ok.csv", "S001/bad.csv", "S001/busy.csv")


@pytest.fixture
def view(qtbot: QtBot, bus: EventBus, controller: AppController, registry: Registry,
         tasks: Tasks) -> Iterator[TransfersView]:
    adapter = EngineAdapter(bus, interval_ms=20)
    state = LiveState(adapter, controller)
    widget = TransfersView(state, controller, registry, tasks)
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    for relpath in FILES:
        bus.publish(FileCompleted(JOB, Direction.DOWNLOAD, relpath, 100, "ab" * 64, 0.1))
    qtbot.waitUntil(lambda: widget.table.model().rowCount() == 3, timeout=3000)
    # What the engine's processing stage publishes, through the adapter.
    bus.publish(FileProcessed(JOB, "S001/ok.csv", "ab" * 64, ProcessingState.OK, "index"))
    bus.publish(FileProcessed(JOB, "S001/bad.csv", "ab" * 64, ProcessingState.FAILED, "index",
                              "the command exited with code 2",
                              "reading…\nTraceback: \x1b[31mboom"))
    bus.publish(FileProcessed(JOB, "S001/busy.csv", "ab" * 64, ProcessingState.RUNNING,
                              "index"))
    qtbot.waitUntil(lambda: _cell(widget, "S001/ok.csv", Column.STATUS) == "Processed",
                    timeout=3000)
    yield widget
    adapter.close()
    state.deleteLater()


def _process(view: TransfersView, relpath: str, processing: Processing) -> None:
    row = view.state.book.set_processing(JOB, relpath, processing)
    assert row is not None
    view.state.rowsChanged.emit([row])


def _cell(view: TransfersView, relpath: str, column: Column,
          role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole) -> str:
    model = view.table.model()
    for r in range(model.rowCount()):
        if model.index(r, Column.FILE).data() == relpath:
            return str(model.index(r, column).data(role) or "")
    raise AssertionError(f"{relpath} is not shown")


def _select(view: TransfersView, relpath: str) -> None:
    model = view.table.model()
    view.table.selectRow(next(r for r in range(model.rowCount())
                              if model.index(r, Column.FILE).data() == relpath))


def test_the_processing_state_words(view: TransfersView) -> None:
    assert _cell(view, "S001/ok.csv", Column.STATUS) == "Processed"
    assert _cell(view, "S001/bad.csv", Column.STATUS) == "Processing failed"
    assert _cell(view, "S001/busy.csv", Column.STATUS) == "Processing…"
    assert _cell(view, "S001/bad.csv", Column.ERROR) == "the command exited with code 2"
    tip = _cell(view, "S001/bad.csv", Column.STATUS, Qt.ItemDataRole.ToolTipRole)
    assert tip == ("Processing failed by index: the command exited with code 2\n"
                   "Select it and press Retry processing to run it again.")
    assert _cell(view, "S001/busy.csv", Column.STATUS, Qt.ItemDataRole.ToolTipRole) == (
        "Received; being processed by index.")
    # A failed processing is a problem (the filter, the status), a running one is activity.
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.PROBLEMS))
    assert view.table.model().rowCount() == 1
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.ACTIVE))
    assert view.table.model().rowCount() == 1
    assert view.state.book.problems().text() == "1 file failed processing"


def test_the_details_show_the_reason_and_the_output_escaped(view: TransfersView) -> None:
    _select(view, "S001/bad.csv")
    details = view.details.text()
    assert details.splitlines()[1:4] == [
        "Received", "Processing failed by index: the command exited with code 2", "Output:"]
    assert "Traceback: \\x1b[31mboom" in details  # the terminal escape is shown, not run
    assert details.endswith("Select it and press Retry processing to run it again.")


def test_retry_processing_calls_the_app_and_says_the_outcome(view: TransfersView,
                                                             qtbot: QtBot) -> None:
    button = view.retry_processing_button
    assert button.isHidden()
    _select(view, "S001/ok.csv")
    assert button.isHidden()
    assert not button.isEnabled()
    calls: list[tuple[str, str]] = []

    def retry(job: str, relpath: str) -> Future[str]:
        calls.append((job, relpath))
        future: Future[str] = Future()
        future.set_result(f"{relpath} is processed again.")
        return future

    view.retry_processing = retry
    _select(view, "S001/bad.csv")
    assert button.isEnabled()
    assert not button.isHidden()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert calls == [(JOB, "S001/bad.csv")]
    qtbot.waitUntil(lambda: view.message.text() == "S001/bad.csv is processed again.",
                    timeout=3000)

    def refused(_job: str, _relpath: str) -> Future[str]:
        future: Future[str] = Future()
        future.set_exception(RuntimeError("the destination is not running"))
        return future

    view.retry_processing = refused
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.message.text() == (
        "Could not process S001/bad.csv again: the destination is not running"), timeout=3000)

    _process(view, "S001/bad.csv", Processing(ProcessingState.OK, processor="index"))
    qtbot.waitUntil(lambda: not button.isEnabled(), timeout=3000)
    assert view.state.book.problems().text() == ""


def test_retry_processing_asks_the_controller(view: TransfersView, qtbot: QtBot) -> None:
    # No destination job runs here: the controller's own sentence says what to do.
    _select(view, "S001/bad.csv")
    qtbot.mouseClick(view.retry_processing_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.message.text() == (
        "The destination is not running: start it, then retry."), timeout=5000)
