"""The one ok/problem/busy status line of the forms, and small form-building helpers.

A :class:`StatusLine` says how something went with an icon that has a name for
screen readers and a sentence: never by colour alone. Every form, dialog and
wizard page uses it for its outcome line (saving, testing a bucket or a broker,
provisioning, what blocks Apply); what it can say is
:class:`~openmsi_gui.app.status.StatusKind`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.status import StatusKind
from openmsi_gui.ui.status_icons import icon_label, set_icon

__all__ = ["ERROR_STYLE", "StatusKind", "StatusLine", "buddy_label", "busy_indicator",
           "inline_error", "line_edit", "with_error"]

ERROR_STYLE = "color: #c0392b;"
"""Problems are red, and always spelled out too (never colour alone)."""


def busy_indicator(name: str, width: int = 80) -> QProgressBar:
    """A hidden indeterminate progress bar (shown while work runs) named ``name``."""
    bar = QProgressBar()
    bar.setRange(0, 0)
    bar.setTextVisible(False)
    bar.setMaximumWidth(width)
    bar.setAccessibleName(name)
    bar.hide()
    return bar


class StatusLine(QWidget):
    """An icon (or a busy bar) and a sentence: ok, problem, note or busy.

    Args:
        name: the accessible name of the sentence, e.g. "Bucket test result".
        busy_bar: show an indeterminate progress bar instead of an icon while busy.
        icons: show icons at all (a form's list of problems may be words only).
        hide_empty: hide the whole line while it has nothing to say.
        icon_size: the icons' size in pixels.
        parent: the parent widget.
    """

    def __init__(self, name: str, busy_bar: bool = False, icons: bool = True,
                 parent: QWidget | None = None, *, hide_empty: bool = False,
                 icon_size: int = 16) -> None:
        super().__init__(parent)
        self._kind: StatusKind | None = None
        self._icons = icons
        self._hide_empty = hide_empty
        self.icon = icon_label(icon_size)
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
            self.busy = busy_indicator(f"{name}: working")
            layout.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1, Qt.AlignmentFlag.AlignTop)
        if hide_empty:
            self.hide()

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
        """Say ``text`` as ``kind`` (plain text without an icon if None; "" clears)."""
        self._show(kind if text else None, text)

    def show_result(self, ok: bool | None, text: str) -> None:
        """:meth:`show_ok` or :meth:`show_problem`; plain ``text`` without an icon if None."""
        self._show(None if ok is None else StatusKind.of(ok), text)

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
        self.icon.setVisible(self._icons and not bar)
        set_icon(self.icon, kind if self._icons and not bar else None)
        # Shown only once it is in a window: a parentless widget would open as one.
        if self._hide_empty and (self.parentWidget() is not None or not text):
            self.setVisible(bool(text))


def buddy_label(text: str, buddy: QWidget) -> QLabel:
    """A form label whose mnemonic (``&x``) focuses ``buddy``."""
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def line_edit(accessible: str, tip: str, placeholder: str = "") -> QLineEdit:
    """A line edit with its accessible name, tooltip and placeholder."""
    edit = QLineEdit()
    edit.setAccessibleName(accessible)
    edit.setToolTip(tip)
    edit.setPlaceholderText(placeholder)
    return edit


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
