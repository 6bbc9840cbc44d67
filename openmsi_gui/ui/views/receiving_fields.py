"""The destination form's "Only files matching" and "Write the information beside each file".

A download filter (OpenMSIStream's ``--download_regex``: a regular expression
matched from the start of each file's path, with /) and, for folders, the
``<name>.metadata.json`` sidecar. The rules are in
:mod:`openmsi_gui.app.file_information`; these fields only render them.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QWidget

from openmsi_gui.app.file_information import download_regex_problem
from openmsi_gui.app.settings import Destination, DestinationKind
from openmsi_gui.ui.status_line import buddy_label, inline_error, line_edit, with_error


class ReceivingFields(QObject):
    """Two rows of a destination form.

    Signals:
        changed(): the user changed a field.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.regex_edit = line_edit(
            "Only files matching",
            "Take only the files whose path (with /) matches this regular expression from "
            "its start, as OpenMSIStream's --download_regex, e.g. S0\\d+/ or .*\\.tif$; the "
            "others are skipped, counted and read past. Empty: every file.",
            "every file (e.g. .*\\.tif$)")
        self.regex_error = inline_error("Only files matching problem")
        self.sidecar_check = QCheckBox("Write the information beside each file (.metadata.json)")
        self.sidecar_check.setAccessibleName("Write the information beside each file")
        self.sidecar_check.setToolTip(
            "Write the fields sent with each file (instrument, sample...) as "
            "<file name>.metadata.json beside it")
        self.regex_edit.textEdited.connect(lambda _text: self.changed.emit())
        self.sidecar_check.toggled.connect(lambda _on: self.changed.emit())
        self._sidecar_row: QWidget = self.sidecar_check
        self._form: QFormLayout | None = None

    def add_rows(self, form: QFormLayout) -> None:
        """Add the two rows to ``form``."""
        self._form = form
        form.addRow(buddy_label("Only files matching:", self.regex_edit),
                    with_error(self.regex_edit, self.regex_error))
        form.addRow("", self.sidecar_check)

    def tab_order(self) -> list[QWidget]:
        """The fields in tab order."""
        return [self.regex_edit, self.sidecar_check]

    def load(self, item: Destination) -> None:
        """Show ``item``'s filter and sidecar choice."""
        self.regex_edit.setText(item.download_regex)
        self.regex_edit.setCursorPosition(0)
        self.sidecar_check.setChecked(item.sidecar)

    def read(self, item: Destination) -> Destination:
        """``item`` with the fields' values."""
        return dataclasses.replace(item, download_regex=self.regex_edit.text().strip(),
                                   sidecar=self.sidecar_check.isChecked())

    def show_state(self, item: Destination) -> None:
        """Show the filter's problem, and the sidecar choice for folders only."""
        problem = download_regex_problem(item.download_regex)
        self.regex_error.setText(problem or "")
        self.regex_error.setVisible(problem is not None)
        if self._form is not None:
            self._form.setRowVisible(self.sidecar_check, item.kind is DestinationKind.FOLDER)
