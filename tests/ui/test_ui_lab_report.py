"""Preferences ▸ Report to the lab overview: fields, checks, saving."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from openmsi_gui.app.lab_reporting import default_program_name
from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.ui.tasks import Tasks


def test_the_lab_group_saves_the_reporting_settings(qtbot: QtBot, store: SettingsStore,
                                                    tasks: Tasks) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    from openmsi_gui.ui.preferences import PreferencesDialog

    dialog = PreferencesDialog(store, tasks)
    qtbot.addWidget(dialog)
    lab = dialog.lab
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not lab.report.isChecked()
    assert not lab.heartbeat_topic.isEnabled()  # off: the fields wait
    assert lab.program_name.placeholderText() == default_program_name()
    for widget in (lab.heartbeat_topic, lab.log_topic, lab.program_name, lab.interval):
        assert widget.accessibleName()
    lab.report.setChecked(True)
    assert lab.heartbeat_topic.isEnabled()
    lab.heartbeat_topic.setText("lab beats")  # a space: not a topic name
    assert not ok.isEnabled()
    assert lab.error.isVisibleTo(dialog)
    assert "topic" in lab.error.text().lower()
    lab.heartbeat_topic.setText("lab_beats")
    lab.program_name.setText("labpc07")
    lab.interval.setValue(30)
    assert ok.isEnabled()
    assert not lab.error.isVisibleTo(dialog)
    dialog.accept()
    saved = store.settings.lab
    assert (saved.report, saved.heartbeat_topic, saved.program_name, saved.interval_secs) == (
        True, "lab_beats", "labpc07", 30.0)
    assert saved.log_topic == "openmsi_logs"  # the default, kept
