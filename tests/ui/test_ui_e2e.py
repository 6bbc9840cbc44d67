"""The whole tray app, driven through its widgets against the real broker.

A technician adds a broker, a watched folder and a destination by
point-and-click, drops files into the folder, sees them complete in the
transfers view, and finds them byte-exact in the destination.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.app.transfer_rows import Column
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.application import OpenMSIApp


@pytest.fixture
def app(qtbot: QtBot, store: SettingsStore, tmp_path: Path) -> Iterator[OpenMSIApp]:
    settings = store.settings
    settings.ui.first_run_done = True
    store.update(settings)
    openmsi = OpenMSIApp(store, Registry(tmp_path / "app-registry.sqlite3"))
    openmsi.start(show_window=True)
    # Not qtbot.addWidget(window): pytest-qt would close it before this fixture quits the
    # app, and with no tray, closing the window asks "files still sending; quit anyway?".
    yield openmsi
    openmsi.quit()
    # Stopped, and the app's background executors (which the views use) shut down.
    qtbot.waitUntil(lambda: openmsi.controller._control._shutdown and openmsi.tasks.closed,
                    timeout=60_000)
    openmsi.window.deleteLater()
    openmsi.deleteLater()  # and with it the timers of its live state and adapter


def click(qtbot: QtBot, widget: object) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def pick_folder(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *args, **kwargs: str(path)))


def test_configure_by_clicking_then_files_arrive_and_show_as_done(
        app: OpenMSIApp, qtbot: QtBot, broker: EmbeddedBroker, topic: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window = app.window
    # 1. Brokers tab: a profile for the lab broker.
    window.tabs.setCurrentWidget(window.profiles)
    profiles = window.profiles
    click(qtbot, profiles.new_button)
    profiles.form.name_edit.clear()
    qtbot.keyClicks(profiles.form.name_edit, "Lab broker")
    qtbot.keyClicks(profiles.form.servers_edit, broker.bootstrap_servers)
    click(qtbot, profiles.form.save_button)
    qtbot.waitUntil(lambda: [p.name for p in app.store.settings.profiles] == ["Lab broker"],
                    timeout=10_000)
    # 2. Destinations tab: rebuild the topic into a folder.
    received = tmp_path / "received"
    received.mkdir()
    window.tabs.setCurrentWidget(window.destinations)
    destinations = window.destinations
    pick_folder(monkeypatch, received)
    click(qtbot, destinations.add_button)
    qtbot.keyClicks(destinations.topic_picker.combo, topic)
    assert destinations.apply_button.isEnabled(), destinations.errors.text()
    click(qtbot, destinations.apply_button)
    # 3. Watched folders tab: the instrument's folder.
    instrument = tmp_path / "instrument"
    instrument.mkdir()
    window.tabs.setCurrentWidget(window.folders)
    folders = window.folders
    pick_folder(monkeypatch, instrument)
    click(qtbot, folders.add_button)
    qtbot.keyClicks(folders.topic_picker.combo, topic)
    folders.stable_spin.setValue(0.5)
    assert folders.apply_button.isEnabled(), folders.errors.text()
    click(qtbot, folders.apply_button)
    assert len(app.store.settings.folders) == 1
    assert len(app.store.settings.destinations) == 1
    qtbot.waitUntil(lambda: len(app.controller._jobs) == 2, timeout=30_000)
    qtbot.wait(3500)  # the destination joins its consumer group
    # 4. The instrument writes files.
    files = {"scan_001.tif": os.urandom(1_200_000), "run 7/spectrum.csv": b"nm,counts\n" * 5000,
             "ünïcödé.txt": "Grüße aus dem Labor".encode()}
    for rel, data in files.items():
        (instrument / rel).parent.mkdir(parents=True, exist_ok=True)
        (instrument / rel).write_bytes(data)
    # 5. The transfers view shows every file sent and received.
    window.tabs.setCurrentWidget(window.transfers)
    model = window.transfers.model

    def statuses() -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for row in range(model.rowCount()):
            path = model.index(row, Column.FILE).data()
            found[(path, model.index(row, Column.DIRECTION).data())] = model.index(
                row, Column.STATUS).data()
        return found

    def all_done() -> bool:
        done = [s for s in statuses().values() if s in ("Sent", "Received")]
        return len(done) == 2 * len(files)

    qtbot.waitUntil(all_done, timeout=60_000)
    for rel, data in files.items():
        assert (received / rel).read_bytes() == data
    assert "Needs attention" not in window.status_text.text()
