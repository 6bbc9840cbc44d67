"""The log view: engine log lines through the adapter, level filter, bounded size."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from openmsi_gui.engine.events import EventBus
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.views.log import LEVELS, LogView, visible_lines


def test_visible_lines_keeps_the_level_and_above() -> None:
    records = [(logging.DEBUG, "d"), (logging.INFO, "i"), (logging.WARNING, "w"),
               (logging.ERROR, "e"), (logging.CRITICAL, "c")]
    assert visible_lines(records, logging.DEBUG) == ["d", "i", "w", "e", "c"]
    assert visible_lines(records, logging.WARNING) == ["w", "e", "c"]
    assert visible_lines(records, logging.ERROR) == ["e", "c"]
    assert visible_lines([], logging.INFO) == []


@pytest.fixture
def adapter(bus: EventBus) -> Iterator[EngineAdapter]:
    engine_adapter = EngineAdapter(bus, interval_ms=20)
    yield engine_adapter
    engine_adapter.close()


@pytest.fixture
def logger(adapter: EngineAdapter) -> Iterator[logging.Logger]:
    log = logging.getLogger("openmsi_gui.test")
    previous = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(adapter.log_handler)
    yield log
    log.removeHandler(adapter.log_handler)
    log.setLevel(previous)


@pytest.fixture
def view(qtbot: QtBot, adapter: EngineAdapter) -> LogView:
    widget = LogView(adapter)
    qtbot.addWidget(widget)
    widget.resize(700, 300)
    widget.show()
    return widget


def test_a_warning_appears(qtbot: QtBot, view: LogView, logger: logging.Logger) -> None:
    logger.warning("broker %s is slow", "kafka-1")
    qtbot.waitUntil(lambda: "broker kafka-1 is slow" in view.text.toPlainText(), timeout=3000)
    assert "WARNING" in view.text.toPlainText()


def test_level_filter_hides_and_shows_lines_again(qtbot: QtBot, view: LogView,
                                                  logger: logging.Logger) -> None:
    logger.info("watching /data")
    logger.warning("disk nearly full")
    logger.error("upload failed")
    qtbot.waitUntil(lambda: "upload failed" in view.text.toPlainText(), timeout=3000)
    assert "watching /data" in view.text.toPlainText()
    view.set_minimum_level(logging.WARNING)
    assert "watching /data" not in view.text.toPlainText()
    assert "disk nearly full" in view.text.toPlainText()
    logger.info("another info line")
    logger.error("another error")
    qtbot.waitUntil(lambda: "another error" in view.text.toPlainText(), timeout=3000)
    assert "another info line" not in view.text.toPlainText()
    view.level_combo.setCurrentIndex(view.level_combo.findData(logging.ERROR))
    assert view.minimum_level == logging.ERROR
    lines = view.text.toPlainText().splitlines()
    assert len(lines) == 2
    assert all("ERROR" in line for line in lines)
    assert "disk nearly full" not in view.text.toPlainText()
    view.set_minimum_level(logging.INFO)
    text = view.text.toPlainText()
    for message in ("watching /data", "disk nearly full", "upload failed", "another info line",
                    "another error"):
        assert message in text
    assert text.index("watching /data") < text.index("another info line")


def test_debug_lines_only_with_the_debug_filter(qtbot: QtBot, view: LogView,
                                                adapter: EngineAdapter) -> None:
    adapter.push_record(logging.DEBUG, "a debug line")
    adapter.push_record(logging.INFO, "an info line")
    qtbot.waitUntil(lambda: "an info line" in view.text.toPlainText(), timeout=3000)
    assert "a debug line" not in view.text.toPlainText()
    view.set_minimum_level(logging.DEBUG)
    assert "a debug line" in view.text.toPlainText()


def test_size_is_bounded(qtbot: QtBot, adapter: EngineAdapter) -> None:
    view = LogView(adapter, max_lines=100)
    qtbot.addWidget(view)
    for i in range(250):
        adapter.push_record(logging.WARNING, f"line {i:03d}")
    qtbot.waitUntil(lambda: "line 249" in view.text.toPlainText(), timeout=3000)
    assert len(view.records) == 100
    assert view.text.document().blockCount() <= 100
    assert "line 149" not in view.text.toPlainText()
    assert "line 150" in view.text.toPlainText()
    view.set_minimum_level(logging.ERROR)
    view.set_minimum_level(logging.INFO)
    assert view.text.document().blockCount() == 100
    assert view.text.toPlainText().splitlines()[0] == "line 150"


def test_default_bound_is_five_thousand_lines(view: LogView) -> None:
    assert view.records.maxlen == 5000
    assert view.text.maximumBlockCount() == 5000
    assert view.text.isReadOnly()


def test_copy_all_and_clear(qtbot: QtBot, view: LogView, adapter: EngineAdapter) -> None:
    adapter.push_record(logging.INFO, "first")
    adapter.push_record(logging.ERROR, "second")
    qtbot.waitUntil(lambda: "second" in view.text.toPlainText(), timeout=3000)
    view.copy_button.click()
    assert QApplication.clipboard().text() == "first\nsecond"
    view.clear_button.click()
    assert view.text.toPlainText() == ""
    assert not view.records


def test_accessible_names_and_mnemonics(view: LogView) -> None:
    for widget in (view, view.text, view.level_combo):
        assert widget.accessibleName()
    for button in (view.copy_button, view.clear_button):
        assert "&" in button.text()
    assert [view.level_combo.itemData(i) for i in range(view.level_combo.count())] == [
        levelno for _, levelno in LEVELS]
    assert view.minimum_level == logging.INFO
