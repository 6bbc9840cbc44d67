"""The Audit window (History ▸ Audit…): the same report as ``openmsi audit``, CSV export."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from helpers import chunks_of, produce_chunks, produce_raw
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from openmsi_gui.app import pairing
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SettingsStore, WatchedFolder
from openmsi_gui.app.status import StatusKind
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity, parse_pairing_code
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, seal_receipt
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.history import HistoryView

DEST = "lab-archive"
FILES = {"run1/a.tif": b"a" * 5000, "run1/b.tif": b"b" * 3000}


def test_the_audit_window_shows_the_report_and_exports_it(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        kafka_config: KafkaConfig, topic: str, broker_profile: BrokerProfile,
        tmp_path: Path) -> None:
    for relpath, data in FILES.items():
        produce_chunks(kafka_config, topic, chunks_of(data, relpath))
    identity = SigningIdentity.generate(DEST)
    stored = Receipt(DEST, topic, "run1/a.tif", hashlib.sha512(FILES["run1/a.tif"]).digest(),
                     5000, 0.0, "/srv/run1/a.tif", time.time(), ReceiptStatus.STORED)
    admin.create_topic(kafka_config, f"{topic}.receipts", 1)
    produce_raw(kafka_config, f"{topic}.receipts",
                [("k", seal_receipt(stored, identity)), ("k", b"garbage")])
    pairing.trust(identity.public.pairing_code(), controller.registry.path.parent)
    settings = store.settings
    settings.profiles = [broker_profile]
    settings.folders = [WatchedFolder(path=str(tmp_path / "outbox"), profile_id=broker_profile.id,
                                      topic=topic, enabled=False, expected_destinations=[DEST])]
    store.update(settings)

    view = HistoryView(controller.registry, tasks, controller=controller)
    qtbot.addWidget(view)
    view.show()
    assert view.audit_button.isVisible()
    qtbot.mouseClick(view.audit_button, Qt.MouseButton.LeftButton)
    window = view.audit_window
    assert window is not None
    assert window.topic.currentText() == f"{topic} (outbox)"
    qtbot.waitUntil(lambda: window.expected.count() == 1, timeout=5000)
    assert window.expected_names() == [DEST]

    with qtbot.waitSignal(window.finished_report, timeout=30000):
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    model = window.model
    assert model.rowCount() == 2
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(5)] == [
        "path", "size", "sha512", "sent", DEST]
    cells = {model.index(r, 0).data(): model.index(r, 4).data() for r in range(2)}
    assert cells["run1/a.tif"].startswith("delivered 20")
    assert "+00:00" not in cells["run1/a.tif"]  # local time, as the history
    assert cells["run1/b.tif"] == "missing"
    a_row = next(r for r in range(2) if model.index(r, 0).data() == "run1/a.tif")
    assert "stored at /srv/run1/a.tif" in model.index(a_row, 4).data(
        Qt.ItemDataRole.ToolTipRole)
    assert window.status.kind() is StatusKind.PROBLEM
    assert window.status.text() == (
        "2 files sent, 1 confirmed by every expected destination, 1 missing; "
        "1 receipt not trusted (1 not a receipt)")

    csv_path = tmp_path / "audit.csv"
    with qtbot.waitSignal(window.exported, timeout=10000):
        window.export_to(csv_path)
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == f"path,size,sha512,sent,{DEST}"
    assert len(lines) == 3

    # Nothing sent since tomorrow: a clean (empty) report.
    window.since_box.setChecked(True)
    window.since.setDateTime(QDateTime.currentDateTime().addDays(1))
    with qtbot.waitSignal(window.finished_report, timeout=30000):
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 0
    assert window.status.kind() is StatusKind.OK
    # Sent records only: these files have none (they were produced as openmsistream does).
    window.since_box.setChecked(False)
    window.records_only.setChecked(True)
    with qtbot.waitSignal(window.finished_report, timeout=30000):
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 0
    window.records_only.setChecked(False)

    # This PC's folder signs sent records: its code is copied for the auditing machine.
    assert window.code_button.isEnabled()
    window.copy_sender_code()
    qtbot.waitUntil(lambda: "is copied" in window.status.text(), timeout=5000)
    sender = parse_pairing_code(QGuiApplication.clipboard().text())
    assert sender.name.endswith(f":{tmp_path / 'outbox'}")
    # ... and a machine that audits pairs with it (and may audit any topic it types).
    other = SigningIdentity.generate("mirror")
    window.add_code(other.public.pairing_code())
    qtbot.waitUntil(lambda: window.expected.count() == 2, timeout=5000)
    assert "mirror is paired" in window.status.text()
    assert window.expected_names() == [DEST]
    window.topic.setEditText("elsewhere")
    target = window.target()
    assert target is not None
    assert (target.topic, target.profile_id, target.folders) == (
        "elsewhere", broker_profile.id, ())
    assert not window.code_button.isEnabled()
    window.close()


def test_without_a_broker_profile_the_window_says_what_to_do(
        qtbot: QtBot, controller: AppController, tasks: Tasks) -> None:
    view = HistoryView(controller.registry, tasks, controller=controller)
    qtbot.addWidget(view)
    view.open_audit()
    window = view.audit_window
    assert window is not None
    assert not window.run_button.isEnabled()
    assert "Add a broker profile first" in window.status.text()
    window.close()
