"""The broker goes away under the running app: rows, status bar and tray say so in plain words.

A real app on a real broker of the test's own, which is killed as a crash would
and started again on its port. Figures (how soon, how many log lines, how long
Quit takes) are printed by ``benchmarks/outage.py``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from openmsi_gui.app.connection import unreachable_sentence
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.application import OpenMSIApp

TOPIC = "outage"


@pytest.fixture
def app(qtbot: QtBot, store: SettingsStore, own_broker: EmbeddedBroker, tmp_path: Path
        ) -> Iterator[OpenMSIApp]:
    admin.create_topic(KafkaConfig.for_bootstrap(own_broker.bootstrap_servers), TOPIC, 1)
    (tmp_path / "instrument").mkdir()
    (tmp_path / "received").mkdir()
    settings = store.settings
    profile = BrokerProfile(name="Lab broker", bootstrap_servers=own_broker.bootstrap_servers)
    settings.profiles.append(profile)
    settings.folders.append(WatchedFolder(path=str(tmp_path / "instrument"),
                                          profile_id=profile.id, topic=TOPIC,
                                          stable_seconds=0.2))
    settings.destinations.append(Destination(path=str(tmp_path / "received"),
                                             profile_id=profile.id, topic=TOPIC,
                                             group_id="outage-test"))
    settings.ui.first_run_done = True
    store.update(settings)
    openmsi = OpenMSIApp(store, Registry(tmp_path / "app-registry.sqlite3"))
    openmsi.start(show_window=True)
    # Not qtbot.addWidget(window): pytest-qt would close it before this fixture quits the
    # app, and with no tray, closing the window asks "files still sending; quit anyway?".
    yield openmsi
    openmsi.quit()
    qtbot.waitUntil(lambda: openmsi.controller._control._shutdown and openmsi.tasks.closed,
                    timeout=60_000)
    openmsi.window.deleteLater()
    openmsi.deleteLater()


def folder_status(app: OpenMSIApp) -> str:
    table = app.window.folders.table
    cell = table.item(0, table.columnCount() - 1)
    return cell.text() if cell is not None else ""


def test_a_broker_outage_is_shown_plainly_and_the_files_go_on_after_it(
        app: OpenMSIApp, qtbot: QtBot, own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    logging.getLogger("openmsi_gui").setLevel(logging.INFO)  # the log view shows INFO lines
    instrument, received = tmp_path / "instrument", tmp_path / "received"
    (instrument / "before.bin").write_bytes(data := os.urandom(200_000))
    qtbot.waitUntil((received / "before.bin").exists, timeout=30_000)
    assert (received / "before.bin").read_bytes() == data

    own_broker.kill()
    logged_before = len(app.window.log.records)
    (instrument / "during.bin").write_bytes(during := os.urandom(200_000))
    sentence = unreachable_sentence(own_broker.bootstrap_servers)
    # Within 15 s: the folder row, the status bar and the tray say it.
    qtbot.waitUntil(lambda: folder_status(app) == "No broker", timeout=15_000)
    cell = app.window.folders.table.item(0, app.window.folders.table.columnCount() - 1)
    assert cell is not None
    assert sentence in cell.toolTip()
    qtbot.waitUntil(lambda: sentence in app.window.status_text.text(), timeout=15_000)
    assert app.state.status is AppStatus.ERROR
    assert sentence in app.tray.icon.toolTip()
    qtbot.wait(3000)  # librdkafka retries meanwhile, several times a second
    outage_lines = [text for _level, text in list(app.window.log.records)[logged_before:]]
    assert sum("Cannot reach the broker" in line for line in outage_lines) == 2  # folder, dest
    assert len(outage_lines) < 15, outage_lines  # a handful, not hundreds
    # librdkafka's own words only in one line per job and outage (for support; the log file
    # and the lab's log topic get it too), never its retries
    rdkafka = [line for line in outage_lines if "Connect to ipv4" in line]
    assert len(rdkafka) <= 2, outage_lines
    assert all("broker unreachable: " in line for line in rdkafka), rdkafka

    own_broker.start()  # on its port, empty (in memory): the topic is made again
    admin.create_topic(KafkaConfig.for_bootstrap(own_broker.bootstrap_servers), TOPIC, 1)
    qtbot.waitUntil((received / "during.bin").exists, timeout=60_000)
    assert (received / "during.bin").read_bytes() == during
    qtbot.waitUntil(lambda: app.state.status is not AppStatus.ERROR, timeout=15_000)
    assert sentence not in app.window.status_text.text()
    assert any("Broker reachable again after" in text for _level, text in app.window.log.records)


def test_quit_with_the_broker_away_stops_without_waiting_for_it(
        app: OpenMSIApp, qtbot: QtBot, own_broker: EmbeddedBroker, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    instrument, received = tmp_path / "instrument", tmp_path / "received"
    (instrument / "first.bin").write_bytes(os.urandom(1000))
    qtbot.waitUntil((received / "first.bin").exists, timeout=30_000)  # the jobs run
    own_broker.kill()
    (instrument / "stuck.bin").write_bytes(os.urandom(200_000))
    qtbot.waitUntil(lambda: app.state.book.on_their_way() == (1, 0), timeout=15_000)
    asked: list[str] = []

    def answer(_parent: object, _title: str, text: str, *_args: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.No if len(asked) == 1 else (
            QMessageBox.StandardButton.Yes)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer))
    app.request_quit()  # "No": it keeps running
    assert asked == ["1 file still sending; it continues at next start. Quit anyway?"]
    assert not app.stopped
    app.request_quit()
    assert app.stopped
    # Bounded: the jobs stop whatever the broker does (the fixture waits at most 60 s).
    qtbot.waitUntil(lambda: app.controller._control._shutdown, timeout=20_000)
