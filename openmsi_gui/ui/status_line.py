"""The one ok/problem/busy status line of the forms, and small form-building helpers.

A :class:`StatusLine` says how something went with an icon that has a name for
screen readers and a sentence: never by colour alone. Every form uses it for
its outcome line (saving, testing a bucket or a broker, what blocks Apply).
"""

from __future__ import annotations

import enum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.ui.status_icons import icon_label, set_icon

ERROR_STYLE = "color: #c0392b;"
"""Problems are red, and always spelled out too (never colour alone)."""


class StatusKind(enum.Enum):
    """What a status line says; the value is its picture in :data:`status_icons.ICONS`."""

    OK = "ok"
    PROBLEM = "problem"
    NOTE = "note"
    BUSY = "busy"


class StatusLine(QWidget):
    """An icon (or a busy bar) and a sentence: ok, problem, note or busy.

    Args:
        name: the accessible name of the sentence, e.g. "Bucket test result".
        busy_bar: show an indeterminate progress bar instead of an icon while busy.
        icons: show icons at all (a form's list of problems may be words only).
        parent: the parent widget.
    """

    def __init__(self, name: str, busy_bar: bool = False, icons: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kind: StatusKind | None = None
        self._icons = icons
        self.icon = icon_label()
        self.icon.setVisible(icons)
        self.busy: QProgressBar | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setAccessibleName(name)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        if busy_bar:
            self.busy = QProgressBar()
            self.busy.setRange(0, 0)
            self.busy.setTextVisible(False)
            self.busy.setMaximumWidth(80)
            self.busy.setAccessibleName(f"{name}: working")
            self.busy.hide()
            layout.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1, Qt.AlignmentFlag.AlignTop)

    def text(self) -> str:
        """The sentence shown."""
        return self.label.text()

    def kind(self) -> StatusKind | None:
        """What the line says now (None when it shows nothing or plain text)."""
        return self._kind

    def show_ok(self, text: str) -> None:
        """Something worked."""
        self._show(StatusKind.OK, text)

    def show_problem(self, text: str) -> None:
        """Something is wrong (the sentence says what to do)."""
        self._show(StatusKind.PROBLEM, text)

    def show_note(self, text: str) -> None:
        """Something to know that is neither good nor bad."""
        self._show(StatusKind.NOTE, text)

    def show_busy(self, text: str) -> None:
        """Work is going on."""
        self._show(StatusKind.BUSY, text)

    def say(self, kind: StatusKind | None, text: str) -> None:
        """Say ``text`` as ``kind`` (plain text without an icon if None)."""
        self._show(kind, text)

    def show_result(self, ok: bool | None, text: str) -> None:
        """:meth:`show_ok` or :meth:`show_problem`; plain ``text`` without an icon if None."""
        self._show(None if ok is None else StatusKind.OK if ok else StatusKind.PROBLEM, text)

    def clear(self) -> None:
        """Show nothing."""
        self._show(None, "")

    def _show(self, kind: StatusKind | None, text: str) -> None:
        self._kind = kind
        self.label.setText(text)
        self.label.setAccessibleDescription(text)
        self.label.setStyleSheet(ERROR_STYLE if kind is StatusKind.PROBLEM else "")
        bar = self.busy is not None and kind is StatusKind.BUSY
        if self.busy is not None:
            self.busy.setVisible(bar)
        shown = kind is not None and not bar and self._icons
        set_icon(self.icon, kind.value if shown and kind is not None else "")


def buddy_label(text: str, buddy: QWidget) -> QLabel:
    """A form label whose mnemonic (``&x``) focuses ``buddy``."""
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def with_error(field: QWidget, error: QWidget) -> QWidget:
    """``field`` with its inline problem right under it, as one form cell."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(field)
    layout.addWidget(error)
    return box


def inline_error(name: str) -> QLabel:
    """A hidden red label for one field's problem (see :func:`with_error`)."""
    label = QLabel()
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(ERROR_STYLE)
    label.hide()
    return label
