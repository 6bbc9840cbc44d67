"""The watched folder form's "Information sent with each file" section.

Fixed fields in a two-column table, "Fields from the path" (a regular
expression whose named groups become fields) with a live preview for an example
path, and "Require a current sample". The current sample itself is set from the
tray menu. The rules and sentences are in :mod:`openmsi_gui.app.file_information`;
this section only renders them.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from openmsi_gui.app.file_information import (
    SAMPLE_MENU_TEXT,
    fields_from_rows,
    fields_problem,
    path_regex_problem,
    preview,
)
from openmsi_gui.app.settings import WatchedFolder
from openmsi_gui.ui.status_line import buddy_label, inline_error, line_edit, with_error
from openmsi_gui.ui.views.advanced import AdvancedSection
from openmsi_gui.ui.views.item_list import push_button

TITLE = "Information sent with each file"


class InformationSection(AdvancedSection):
    """Fixed fields, fields from the path (with a preview) and the sample rule, folded.

    Signals:
        changed(): the user changed a field.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.toggle.setToolTip("Fields that travel with every file (instrument, operator, "
                               "sample...) and that destinations keep")
        self.table = QTableWidget(0, 2)
        self.table.setAccessibleName("Fixed fields")
        self.table.setToolTip("Sent with every file, e.g. instrument = SEM-2, lab = B2")
        self.table.setHorizontalHeaderLabels(["Field", "Value"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMaximumHeight(120)
        self.table.itemChanged.connect(self.on_table_item_changed)
        self.add_button = push_button("Add field", "Add a fixed field", self.on_add_clicked)
        self.remove_button = push_button("Remove field", "Remove the selected field",
                                         self.on_remove_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.fields_error = inline_error("Fixed fields problem")
        self.path_edit = line_edit(
            "Fields from the path",
            "A regular expression searched in each file's path inside the folder (with /); "
            "its named groups become fields, e.g. (?P<sample>[^/]+)/ takes the first folder "
            "as the sample", "none (e.g. (?P<sample>[^/]+)/)")
        self.path_error = inline_error("Fields from the path problem")
        self.example_edit = line_edit("Example path", "A path inside the folder to try the "
                                      "pattern on (not saved)", "e.g. S001/run 3/image.tif")
        self.preview_label = QLabel()
        self.preview_label.setAccessibleName("Information for the example path")
        self.preview_label.setWordWrap(True)
        self.require_check = QCheckBox("Require a current sample")
        self.require_check.setAccessibleName("Require a current sample")
        self.require_check.setToolTip(
            f"Files wait until a current sample is set from the tray menu ({SAMPLE_MENU_TEXT}); "
            "it is sent as the field 'sample'")
        for edit in (self.path_edit, self.example_edit):
            edit.textEdited.connect(self.on_text_edited)
        self.require_check.toggled.connect(lambda _on: self.changed.emit())
        self.form.addRow(buddy_label("Fixed fields:", self.table),
                         with_error(self.table, self.fields_error))
        self.form.addRow("", _wrap(buttons))
        self.form.addRow(buddy_label("From the path:", self.path_edit),
                         with_error(self.path_edit, self.path_error))
        self.form.addRow(buddy_label("Example path:", self.example_edit), self.example_edit)
        self.form.addRow("", self.preview_label)
        self.form.addRow("", self.require_check)
        self._loading = False
        self._sample = ""

    def tab_order(self) -> list[QWidget]:
        """The section's widgets in tab order."""
        return [self.toggle, self.table, self.add_button, self.remove_button, self.path_edit,
                self.example_edit, self.require_check]

    def load(self, item: WatchedFolder) -> None:
        """Show ``item``'s fields."""
        self._loading = True
        try:
            self.table.setRowCount(0)
            for key, value in item.metadata.items():
                self._append_row(key, value)
            self.path_edit.setText(item.metadata_from_path)
            self.path_edit.setCursorPosition(0)
            self.require_check.setChecked(item.require_sample)
            self._sample = item.current_sample
        finally:
            self._loading = False
        if item.metadata or item.metadata_from_path or item.require_sample:
            self.set_expanded(True)  # never hide what is sent
        self._show_preview()

    def read(self, item: WatchedFolder) -> WatchedFolder:
        """``item`` with the section's fields (the current sample is the tray's)."""
        fields, _problem = fields_from_rows(self.rows())
        return dataclasses.replace(item, metadata=fields,
                                   metadata_from_path=self.path_edit.text().strip(),
                                   require_sample=self.require_check.isChecked())

    def problem(self) -> str | None:
        """What is wrong with the table as typed (a value without a name, a name twice)."""
        return fields_from_rows(self.rows())[1]

    def rows(self) -> list[tuple[str, str]]:
        """The table's (field, value) rows as typed."""
        return [(_text(self.table.item(row, 0)), _text(self.table.item(row, 1)))
                for row in range(self.table.rowCount())]

    def show_problems(self) -> None:
        """Show what is wrong with the fields and the pattern beside them."""
        fields, rows_problem = fields_from_rows(self.rows())
        problem = rows_problem or fields_problem(fields)
        self.fields_error.setText(problem or "")
        self.fields_error.setVisible(problem is not None)
        path_problem = path_regex_problem(self.path_edit.text().strip())
        self.path_error.setText(path_problem or "")
        self.path_error.setVisible(path_problem is not None)
        self._show_preview()

    def _show_preview(self) -> None:
        fields, _ = fields_from_rows(self.rows())
        self.preview_label.setText(preview(fields, self.path_edit.text().strip(),
                                           self.example_edit.text().strip(), self._sample))

    def _append_row(self, key: str, value: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(key))
        self.table.setItem(row, 1, QTableWidgetItem(value))

    def on_add_clicked(self) -> None:
        self._loading = True
        try:
            self._append_row("", "")
        finally:
            self._loading = False
        self.table.setCurrentCell(self.table.rowCount() - 1, 0)
        new = self.table.item(self.table.rowCount() - 1, 0)
        if new is not None:
            self.table.editItem(new)

    def on_remove_clicked(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self._show_preview()
            self.changed.emit()

    def on_table_item_changed(self, _item: QTableWidgetItem) -> None:
        if not self._loading:
            self._show_preview()
            self.changed.emit()

    def on_text_edited(self, _text: str) -> None:
        self._show_preview()
        if self.sender() is self.path_edit:
            self.changed.emit()


def _text(item: QTableWidgetItem | None) -> str:
    return item.text().strip() if item is not None else ""


def _wrap(layout: QHBoxLayout) -> QWidget:
    widget = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    widget.setLayout(layout)
    return widget
