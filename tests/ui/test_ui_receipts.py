"""The destination form's receipt settings: whether to send them and under which name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from openmsi_gui.app import pairing
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore
from openmsi_gui.engine.receipt_keys import parse_pairing_code
from openmsi_gui.ui.status_line import StatusKind
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.destinations import DestinationsView


def test_a_destination_names_itself_in_its_receipts(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    profile = BrokerProfile(name="Lab", bootstrap_servers="127.0.0.1:9")  # never connected to
    settings = store.settings
    settings.profiles = [profile]
    settings.destinations = [Destination(path=str(tmp_path / "in"), profile_id=profile.id,
                                         topic="t", group_id="g", enabled=False)]
    store.update(settings)
    view = DestinationsView(store, controller, tasks)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    view.table.selectRow(0)
    qtbot.waitUntil(view.form_box.isEnabled, timeout=5000)
    qtbot.waitUntil(lambda: not view.errors.text(), timeout=5000)  # folder checked
    view.advanced.set_expanded(True)
    assert view.receipts_check.isChecked()
    assert view.receipt_name_edit.placeholderText().endswith(f":{tmp_path / 'in'}")
    qtbot.keyClicks(view.receipt_name_edit, "lab-archive")
    assert view.apply_button.isEnabled(), view.errors.text()
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: store.settings.destinations[0].receipt_name == "lab-archive",
                    timeout=5000)
    qtbot.mouseClick(view.pairing_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.pairing_status.kind() is StatusKind.OK, timeout=5000)
    assert "'lab-archive' is copied" in view.pairing_status.text()
    code = QGuiApplication.clipboard().text()
    assert parse_pairing_code(code).name == "lab-archive"
    # The same keys as the destination's job (made once, kept in the keychain).
    made = pairing.identity("lab-archive", controller.registry.path.parent, create=False)
    assert made is not None
    assert made.public.pairing_code() == code
    view.receipts_check.setChecked(False)
    assert not view.receipt_name_edit.isEnabled()
    assert not view.pairing_button.isEnabled()
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not store.settings.destinations[0].receipts, timeout=5000)
