"""Preferences' "Report to the lab overview" group: heartbeats and warnings of every job."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLineEdit

from openmsi_gui.app.lab_reporting import default_program_name, lab_errors
from openmsi_gui.app.lab_settings import MAX_INTERVAL_SECS, MIN_INTERVAL_SECS, LabSettings
from openmsi_gui.ui.status_line import buddy_label, inline_error, line_edit


class LabReportBox:
    """The group's fields, read from and written to :class:`LabSettings`.

    Args:
        lab: the settings shown.
        on_change: called when a field changes (the dialog checks its fields).
    """

    def __init__(self, lab: LabSettings, on_change: Callable[[], None] | None = None) -> None:
        self.group = QGroupBox("Report to the lab overview")
        self.report = QCheckBox("&Send heartbeats and warnings of every job")
        self.report.setToolTip(
            "Each watched folder and destination sends a heartbeat (its state, files and "
            "free space) to its broker every interval, and the app's warnings and errors "
            "go to the log topic, in OpenMSIStream's format: the Lab view and 'openmsi "
            "status' show them")
        self.heartbeat_topic = line_edit("Heartbeat topic", "Where the heartbeats go, on "
                                         "each job's broker")
        self.log_topic = line_edit("Log topic", "Where warnings and errors go (empty: "
                                   "nowhere)", "no log messages")
        self.program_name = line_edit(
            "Program name", "Names this computer in the overview; each job reports as "
            "NAME_job (for example labpc01_inbox)", default_program_name())
        self.interval = QDoubleSpinBox()
        self.interval.setAccessibleName("Heartbeat interval")
        self.interval.setRange(MIN_INTERVAL_SECS, MAX_INTERVAL_SECS)
        self.interval.setDecimals(0)
        self.interval.setSuffix(" s")
        self.interval.setToolTip("Seconds between heartbeats (and between log messages); "
                                 "a program that misses two turns silent in the overview")
        self.error = inline_error("Report to the lab overview problem")
        form = QFormLayout(self.group)
        form.addRow(self.report)
        form.addRow(buddy_label("&Heartbeat topic:", self.heartbeat_topic), self.heartbeat_topic)
        form.addRow(buddy_label("L&og topic:", self.log_topic), self.log_topic)
        form.addRow(buddy_label("Program &name:", self.program_name), self.program_name)
        form.addRow(buddy_label("&Every:", self.interval), self.interval)
        form.addRow(self.error)
        self.report.setChecked(lab.report)
        self.heartbeat_topic.setText(lab.heartbeat_topic)
        self.log_topic.setText(lab.log_topic)
        self.program_name.setText(lab.program_name)
        self.interval.setValue(lab.interval_secs)
        self.report.toggled.connect(self._follow_report)
        self._follow_report(lab.report)
        if on_change is not None:
            self.report.toggled.connect(on_change)
            for edit in self.edits():
                edit.textChanged.connect(on_change)

    def edits(self) -> list[QLineEdit]:
        """The text fields (the dialog re-checks when they change)."""
        return [self.heartbeat_topic, self.log_topic, self.program_name]

    def _follow_report(self, on: bool) -> None:
        for widget in (*self.edits(), self.interval):
            widget.setEnabled(on)
        self.check()

    def settings(self, lab: LabSettings) -> LabSettings:
        """``lab`` with the fields' values (the Lab view's own settings kept)."""
        return dataclasses.replace(
            lab, report=self.report.isChecked(),
            heartbeat_topic=self.heartbeat_topic.text().strip(),
            log_topic=self.log_topic.text().strip(),
            program_name=self.program_name.text().strip(),
            interval_secs=self.interval.value())

    def check(self) -> bool:
        """Show or hide the problems; whether there are none."""
        problems = lab_errors(self.settings(LabSettings()))
        self.error.setText(" ".join(problems))
        self.error.setVisible(bool(problems))
        return not problems
