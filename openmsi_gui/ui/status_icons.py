"""Small status pictures beside sentences: success, problem, note, work in progress.

Each kind has a standard icon and a name that screen readers say, so a status
is never shown by colour alone. :class:`FieldError` is such a picture and its
sentence under a form field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QWidget

ICONS: dict[str, tuple[QStyle.StandardPixmap, str]] = {
    "ok": (QStyle.StandardPixmap.SP_DialogApplyButton, "Success"),
    "problem": (QStyle.StandardPixmap.SP_MessageBoxWarning, "Problem"),
    "note": (QStyle.StandardPixmap.SP_MessageBoxInformation, "Note"),
    "busy": (QStyle.StandardPixmap.SP_BrowserReload, "Working"),
}
"""Status pictures by kind, with the name screen readers say."""


def kind_of(ok: bool | None) -> str:
    """The :data:`ICONS` kind of a result: None is work in progress."""
    return "busy" if ok is None else "ok" if ok else "problem"


def icon_label() -> QLabel:
    """A 16 px status picture; its accessible name says what it shows."""
    label = QLabel()
    label.setFixedSize(16, 16)
    return label


def set_icon(label: QLabel, kind: str) -> None:
    """Show one of :data:`ICONS` ("" for none) with its name for screen readers."""
    if not kind:
        label.clear()
        label.setAccessibleName("")
        label.setToolTip("")
        return
    pixmap, name = ICONS[kind]
    label.setPixmap(label.style().standardIcon(pixmap).pixmap(16, 16))
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
            set_icon(self.icon, "problem")
        self.setVisible(bool(text))
