"""Hostile message keys and names reach the GUI, its log file and notifications escaped."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile_names import (
    BAD_NAME,
    BAD_SHOWN,
    FORGED_SHOWN,
    ODD_NAMES,
    hidden_characters,
    produce_hostile,
)
from PySide6.QtCore import QAbstractItemModel, Qt
from pytestqt.qtbot import QtBot

from openmsi_gui.app.logfiles import close_file_logging, setup_file_logging
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.application import OpenMSIApp


def model_text(model: QAbstractItemModel) -> str:
    """Every cell's text and tooltip, one line per cell."""
    cells = []
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                value = model.data(index, role)
                if isinstance(value, str):
                    cells.append(value.replace("\n", " "))
    return "\n".join(cells)


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OPENMSI_GUI_LOG_DIR", str(tmp_path / "logs"))
    path = setup_file_logging(logging.INFO)
    yield path
    close_file_logging()


@pytest.fixture
def app(qtbot: QtBot, store: SettingsStore, tmp_path: Path, broker_profile: BrokerProfile,
        kafka_config: KafkaConfig, make_topic: Callable[..., str],
        log_file: Path) -> Iterator[OpenMSIApp]:
    topic = make_topic(1)
    produce_hostile(kafka_config, topic)
    (tmp_path / "inbox").mkdir()
    settings = store.settings
    settings.ui.first_run_done = True
    settings.ui.notify_failures = settings.ui.notify_completions = True
    settings.profiles.append(broker_profile)
    settings.destinations.append(Destination(path=str(tmp_path / "inbox"),
                                             profile_id=broker_profile.id, topic=topic,
                                             group_id="gui-hostile"))
    store.update(settings)
    openmsi = OpenMSIApp(store, Registry(tmp_path / "app-registry.sqlite3"))
    yield openmsi
    openmsi.quit()
    qtbot.waitUntil(lambda: openmsi.controller._control._shutdown and openmsi.tasks.closed,
                    timeout=60_000)
    openmsi.window.deleteLater()
    openmsi.deleteLater()


def test_hostile_keys_and_names_are_escaped_in_the_gui_log_file_and_notifications(
        app: OpenMSIApp, qtbot: QtBot, tmp_path: Path, log_file: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    notes: list[str] = []
    monkeypatch.setattr(app.tray.icon, "isVisible", lambda: True)
    monkeypatch.setattr(app.tray.icon, "showMessage",
                        lambda title, text, *args: notes.append(f"{title}: {text}"))
    app.start(show_window=True)  # the fixture quits it (see test_ui_e2e's)
    qtbot.waitUntil((tmp_path / "inbox" / "sentinel.txt").exists, timeout=60_000)
    transfers = app.window.transfers
    qtbot.waitUntil(lambda: sum(n.startswith("File transferred") for n in notes) == 4,
                    timeout=10_000)
    with qtbot.waitSignal(transfers.history.loaded, timeout=10_000):
        transfers.history.refresh()

    table, history = model_text(transfers.model), model_text(transfers.history.model)
    log_view = app.window.log.text.toPlainText()
    logged = log_file.read_text(encoding="utf-8")
    for where, text in (("transfers", table), ("history", history), ("log view", log_view),
                        ("log file", logged), ("notifications", "\n".join(notes))):
        assert hidden_characters(text) == [], where
    assert FORGED_SHOWN in table
    assert FORGED_SHOWN in log_view
    assert FORGED_SHOWN in logged
    assert not [line for line in logged.splitlines() if line.startswith("FORGED")]
    assert BAD_SHOWN in table
    assert BAD_SHOWN in logged
    for shown in ODD_NAMES.values():
        assert shown in table
        assert shown in history
        assert any(shown in note for note in notes)
    assert any(FORGED_SHOWN in note for note in notes)
    assert {p.name for p in (tmp_path / "inbox").iterdir()} >= {*ODD_NAMES, "sentinel.txt"}
    assert BAD_NAME not in {p.name for p in (tmp_path / "inbox").iterdir()}
