"""Ask for a new topic's name; its number of partitions waits under "Advanced"."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.ui.status_line import buddy_label, line_edit
from openmsi_gui.ui.views.advanced import AdvancedSection

DEFAULT_PARTITIONS = 3
"""Partitions of a topic created from the forms, as ``openmsi topic create`` makes it."""

MAX_PARTITIONS = 1000


class CreateTopicDialog(QDialog):
    """The name of a new topic on ``broker``, and (Advanced) its partitions.

    Args:
        broker: the broker's name, for the question.
        name: the name to start with.
        parent: the parent widget.
    """

    def __init__(self, broker: str, name: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create topic")
        self.name_edit = line_edit("Topic name", "Letters, digits, '.', '_' and '-'",
                                   "e.g. lab-data")
        self.name_edit.setText(name)
        self.partitions_spin = QSpinBox()
        self.partitions_spin.setAccessibleName("Partitions")
        self.partitions_spin.setRange(1, MAX_PARTITIONS)
        self.partitions_spin.setValue(DEFAULT_PARTITIONS)
        self.partitions_spin.setToolTip(
            "How many downloaders in one consumer group can share the topic's files; "
            f"{DEFAULT_PARTITIONS} suits most labs")
        self.advanced = AdvancedSection()
        self.advanced.form.addRow(buddy_label("&Partitions:", self.partitions_spin),
                                  self.partitions_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(QLabel(f"A new topic on {broker}:"))
        form.addRow(buddy_label("&Name:", self.name_edit), self.name_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.advanced)
        layout.addWidget(buttons)
        self.name_edit.setFocus()

    def values(self) -> tuple[str, int]:
        """The name (blanks removed) and the number of partitions."""
        return self.name_edit.text().strip(), self.partitions_spin.value()

    @classmethod
    def ask(cls, parent: QWidget, broker: str, name: str = "") -> tuple[str, int] | None:
        """Show the dialog; the name and partitions, or None if cancelled."""
        dialog = cls(broker, name, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.values()
        finally:
            dialog.deleteLater()
