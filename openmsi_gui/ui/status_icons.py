"""Small status pictures beside sentences: success, problem, note, work in progress.

Each kind has a standard icon and a name that screen readers say, so a status
is never shown by colour alone. :class:`FieldError` is such a picture and its
sentence under a form field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QWidget

from openmsi_gui.app.status import StatusKind

ICONS: dict[StatusKind, tuple[QStyle.StandardPixmap, str]] = {
    StatusKind.OK: (QStyle.StandardPixmap.SP_DialogApplyButton, "Success"),
    StatusKind.PROBLEM: (QStyle.StandardPixmap.SP_MessageBoxWarning, "Problem"),
    StatusKind.NOTE: (QStyle.StandardPixmap.SP_MessageBoxInformation, "Note"),
    StatusKind.BUSY: (QStyle.StandardPixmap.SP_BrowserReload, "Working"),
}
"""Status pictures by kind, with the name screen readers say."""


def icon_label(size: int = 16) -> QLabel:
    """A square status picture of ``size`` px; its accessible name says what it shows."""
    label = QLabel()
    label.setFixedSize(size, size)
    return label


def set_icon(label: QLabel, kind: StatusKind | None) -> None:
    """Show one of :data:`ICONS` (None for none) with its name for screen readers."""
    if kind is None:
        label.clear()
        label.setAccessibleName("")
        label.setToolTip("")
        return
    pixmap, name = ICONS[kind]
    size = label.maximumWidth()
    label.setPixmap(label.style().standardIcon(pixmap).pixmap(size, size))
    label.setAccessibleName(name)
    label.setToolTip(name)


class FieldError(QWidget):
    """An inline problem under a field: a warning icon and a sentence (hidden if none)."""

    def __init__(self, accessible: str) -> None:
        super().__init__()
        self.icon = icon_label()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAccessibleName(accessible)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text, 1)
        self.hide()

    def show_error(self, text: str) -> None:
        """Show ``text`` with a warning icon ("" hides the row)."""
        self.text.setText(text)
        if text:
            set_icon(self.icon, StatusKind.PROBLEM)
        self.setVisible(bool(text))
